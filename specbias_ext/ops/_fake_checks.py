"""The input checks of the C++ kernels, restated for the fake kernels (torch.compile, meta).

Shape conditions go through ``torch._check`` so that symbolic (SymInt) sizes become guards or
runtime asserts instead of being specialised; dtype and device conditions are static and raise
the RuntimeError the kernels raise. Value checks (finiteness, index ranges) need the data and
stay with the kernels.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

Tensor = torch.Tensor
_FLOATS = (torch.float32, torch.float64)


def _fail(message: str) -> RuntimeError:
    return RuntimeError(message)


def _same(t: Tensor, name: str, x: Tensor, what: str = "x") -> None:
    if t.dtype != x.dtype:
        raise _fail(f"{name}: expected dtype {x.dtype} (the dtype of {what}), got {t.dtype}")
    if t.device != x.device:
        raise _fail(f"{name}: expected device {x.device} (the device of {what}), got {t.device}")


def check_network(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Optional[Tensor]],
                  slopes=None, input_skip=None, residual=None, skip_columns=None) -> None:
    """x ``[N, D]`` float32/float64 and a described network agreeing with it (``skip_columns``:
    ``start, stop`` per layer, ``-1, -1`` for all of x or no skip)."""
    if x.dim() != 2:
        raise _fail(f"x: expected a 2-D tensor [N, D], got {x.dim()} dimensions")
    if x.dtype not in _FLOATS:
        raise _fail(f"x: expected float32 or float64, got {x.dtype}")
    n_layers = len(weights)
    hidden = n_layers - 1
    if n_layers < 2:
        raise _fail("weights: expected at least 2 layers (one hidden layer and the linear "
                    f"head), got {n_layers}")
    if len(biases) != n_layers:
        raise _fail(f"biases: expected one bias per weight ({n_layers}; None for a layer "
                    f"without bias), got {len(biases)}")
    if slopes is not None:
        if len(slopes) != hidden:
            raise _fail(f"slopes: expected one negative slope per hidden layer ({hidden}), got "
                        f"{len(slopes)}")
        for l, s in enumerate(slopes):
            if s != s or s in (float("inf"), float("-inf")):
                raise _fail(f"slopes[{l}]: expected a finite slope, got {s}")
    if input_skip is not None:
        if len(input_skip) != n_layers:
            raise _fail(f"input_skip: expected one flag per layer, head included ({n_layers}), "
                        f"got {len(input_skip)}")
        if input_skip[0]:
            raise _fail("input_skip[0]: expected false (layer 0 already reads x; a skip needs "
                        "l >= 1)")
    if residual is not None and len(residual) != hidden:
        raise _fail(f"residual: expected one flag per hidden layer ({hidden}), got "
                    f"{len(residual)}")
    columns = _skip_columns(skip_columns, input_skip, n_layers)
    in_dim = x.shape[1]
    prev = in_dim
    for l, w in enumerate(weights):
        wname = f"weights[{l}]"
        if w.dim() != 2:
            raise _fail(f"{wname}: expected a 2-D tensor [out, in], got {w.dim()} dimensions")
        _same(w, wname, x)
        skip = bool(input_skip[l]) if input_skip is not None else False
        start, stop = columns[l]
        if skip and start >= 0:
            torch._check(stop <= in_dim, lambda l=l, start=start, stop=stop: (
                f"skip_columns: layer {l}'s skip reads x columns [{start}, {stop}); expected "
                f"stop <= x.shape[1] = {in_dim}"))
            expect = prev + (stop - start)
            what = (f"the previous layer's width + the {stop - start} x columns [{start}, "
                    f"{stop}) of an input skip")
        else:
            expect = prev + in_dim if skip else prev
            what = ("x.shape[1]" if l == 0 else
                    "the previous layer's width + x.shape[1], an input skip" if skip else
                    "the previous layer's width")
        torch._check(w.shape[1] == expect, lambda wname=wname, w=w, expect=expect, what=what: (
            f"{wname}: expected {expect} input features ({what}), got shape {tuple(w.shape)}"))
        torch._check(w.shape[0] >= 1, lambda wname=wname: (
            f"{wname}: expected at least one output unit"))
        b = biases[l]
        if b is not None:
            bname = f"biases[{l}]"
            if b.dim() != 1:
                raise _fail(f"{bname}: expected a 1-D tensor [out], got {b.dim()} dimensions")
            _same(b, bname, x)
            torch._check(b.shape[0] == w.shape[0], lambda bname=bname, wname=wname, w=w, b=b: (
                f"{bname}: expected {w.shape[0]} entries ({wname}.shape[0]), got {b.shape[0]}"))
        if residual is not None and l < hidden and residual[l]:
            torch._check(w.shape[0] == prev, lambda l=l, w=w, prev=prev: (
                f"residual[{l}]: a residual add needs equal widths; layer {l} has "
                f"{w.shape[0]} outputs and reads {prev}"))
        prev = w.shape[0]


def _skip_columns(skip_columns, input_skip, n_layers) -> list[tuple[int, int]]:
    """The (start, stop) pair of every layer; (-1, -1) for all of x or no skip."""
    if skip_columns is None:
        return [(-1, -1)] * n_layers
    if len(skip_columns) != 2 * n_layers:
        raise _fail(f"skip_columns: expected two entries (start, stop) per layer, head included "
                    f"({2 * n_layers}), got {len(skip_columns)}")
    pairs = []
    for l in range(n_layers):
        start, stop = int(skip_columns[2 * l]), int(skip_columns[2 * l + 1])
        everything = start == -1 and stop == -1
        if not (input_skip is not None and input_skip[l]):
            if not everything:
                raise _fail(f"skip_columns: layer {l} has no input skip; expected -1, -1, got "
                            f"{start}, {stop}")
        elif not (everything or 0 <= start < stop):
            raise _fail(f"skip_columns: layer {l}'s skip reads x columns [{start}, {stop}); "
                        "expected 0 <= start < stop, or -1, -1 for all of x")
        pairs.append((start, stop))
    return pairs


def num_pattern_words(weights: Sequence[Tensor]):
    """ceil(H / 64), in symbolic sizes when the widths are symbolic."""
    total = 0
    for w in weights[:-1]:
        total = total + w.shape[0]
    return (total + 63) // 64


def check_grad_out(grad_out: Tensor, x: Tensor, weights: Sequence[Tensor]) -> None:
    if grad_out.dim() != 2:
        raise _fail(f"grad_out: expected a 2-D tensor [N, out], got {grad_out.dim()} "
                    "dimensions")
    torch._check(grad_out.shape[0] == x.shape[0], lambda: (
        "grad_out: expected shape [N, out] (x.shape[0], weights[-1].shape[0])"))
    torch._check(grad_out.shape[1] == weights[-1].shape[0], lambda: (
        "grad_out: expected shape [N, out] (x.shape[0], weights[-1].shape[0])"))
    _same(grad_out, "grad_out", x)


def check_indices(idx: Tensor, name: str, device: torch.device) -> None:
    if idx.dim() != 1:
        raise _fail(f"{name}: expected a 1-D index tensor, got {idx.dim()} dimensions")
    if idx.dtype != torch.int64:
        raise _fail(f"{name}: expected int64 indices, got {idx.dtype}")
    if idx.device != device:
        raise _fail(f"{name}: expected device {device}, got {idx.device}")


def check_pairs(i: Tensor, j: Tensor, device: torch.device) -> None:
    check_indices(i, "i", device)
    check_indices(j, "j", device)
    torch._check(i.shape[0] == j.shape[0], lambda: "j: expected as many indices as i")


def check_region_ids(ids: Tensor, num_regions, x: Tensor) -> None:
    torch._check(num_regions >= 0, lambda: "num_regions: expected a count >= 0")
    if ids.dim() != 1:
        raise _fail(f"ids: expected a 1-D tensor [N] of region ids, got {ids.dim()} dimensions")
    if ids.dtype != torch.int64:
        raise _fail(f"ids: expected int64 region ids (from region_ids), got {ids.dtype}")
    if ids.device != x.device:
        raise _fail(f"ids: expected device {x.device} (the device of x), got {ids.device}")
    torch._check(ids.shape[0] == x.shape[0], lambda: "ids: expected one id per point of x")


def check_patterns(patterns: Tensor, name: str = "patterns") -> None:
    if patterns.dim() != 2:
        raise _fail(f"{name}: expected a 2-D tensor [N, words], got {patterns.dim()} "
                    "dimensions")
    if patterns.dtype != torch.int64:
        raise _fail(f"{name}: expected int64 packed patterns (from activation_patterns), got "
                    f"{patterns.dtype}")


def check_grid_shape(grid_shape: Sequence, rows) -> None:
    if not 1 <= len(grid_shape) <= 3:
        raise _fail(f"grid_shape: expected 1, 2 or 3 sizes (a 1D, 2D or 3D grid), got "
                    f"{list(grid_shape)}")
    points = 1
    for s in grid_shape:
        torch._check(s >= 0, lambda: "grid_shape: expected non-negative sizes")
        points = points * s
    torch._check(points == rows, lambda: (
        "grid_shape: expected sizes whose product is the number of pattern rows"))


def check_num_bits(num_bits, words) -> None:
    torch._check(num_bits >= 0, lambda: "num_bits: expected 0 <= num_bits")
    torch._check(num_bits <= 64 * words, lambda: (
        "num_bits: expected num_bits <= 64 * patterns.shape[1]"))
