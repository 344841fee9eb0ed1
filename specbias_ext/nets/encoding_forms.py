"""How an encoding enters the geometry ops: its affine-sine form, or its Jacobian.

An encoding is anything with ``affine_sine()`` (every ``specbias_ext.nets.encodings`` class), a
``(matrix [E, D], offset [E], periodic [E])`` triple, ``None`` for raw coordinates (these take the
fused path: the encoding is evaluated inside the kernel), or any differentiable torch module or
function mapping coordinates ``[N, D]`` to features ``[N, E]`` row by row (a hand-written Fourier
layer, a hash grid, a learned embedding), whose Jacobian is taken with ``torch.func.jvp`` in chunks.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch
from torch.func import jvp

Tensor = torch.Tensor
# What the geometry entry points take as an encoding (see the module docstring): None, an
# ``(matrix, offset, periodic)`` triple, or a callable (ours also have ``affine_sine()``).
EncodingLike = Optional[Union[tuple[Tensor, Tensor, Tensor], Callable[[Tensor], Tensor]]]

# Working-set bound of one chunk of a general encoding: the encoded points and their Jacobian.
ENCODED_CHUNK_BYTES = 64 << 20


def check_coords(coords) -> None:
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        shape = list(coords.shape) if isinstance(coords, Tensor) else type(coords).__name__
        raise ValueError(f"coords: expected a 2-D tensor [N, D], got {shape}")


def is_affine_sine(encoding) -> bool:
    """Whether ``encoding`` takes the fused fast path (affine-sine form, a triple, or None)."""
    return (encoding is None or hasattr(encoding, "affine_sine")
            or (isinstance(encoding, (tuple, list)) and len(encoding) == 3))


def encoding_form(encoding, coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(matrix [E, D], offset [E], periodic bool [E])`` of ``encoding`` on coords' dtype/device.

    ``encoding`` is an object with ``affine_sine()``, such a triple, or ``None`` (raw: identity,
    zero offset, nothing periodic).
    """
    check_coords(coords)
    dtype, device = coords.dtype, coords.device
    if encoding is None:
        d = coords.shape[1]
        return (torch.eye(d, dtype=dtype, device=device),
                torch.zeros(d, dtype=dtype, device=device),
                torch.zeros(d, dtype=torch.bool, device=device))
    if hasattr(encoding, "affine_sine"):
        matrix, offset, periodic = encoding.affine_sine(dtype=dtype, device=device)
    elif isinstance(encoding, (tuple, list)) and len(encoding) == 3:
        matrix, offset, periodic = encoding
    else:
        raise TypeError("encoding: expected an object with affine_sine(), a (matrix, offset, "
                        f"periodic) triple or None, got {type(encoding).__name__}")
    return (matrix.to(dtype=dtype, device=device), offset.to(dtype=dtype, device=device),
            periodic.to(dtype=torch.bool, device=device))


def _encoding_name(encoding) -> str:
    return getattr(encoding, "__name__", None) or type(encoding).__name__


def _check_encoded(encoding, coords: Tensor, out) -> int:
    """The encoded width E of ``encoding(coords)``; refuses outputs the ops cannot take."""
    name = _encoding_name(encoding)
    if not isinstance(out, Tensor):
        raise TypeError(f"encoding: expected {name} to return a tensor [N, E], got "
                        f"{type(out).__name__}")
    if out.dim() != 2 or out.shape[0] != coords.shape[0]:
        raise ValueError(f"encoding: expected {name} to map coords [N, D] = "
                         f"{list(coords.shape)} to features [N, E] (one row per point), got "
                         f"{list(out.shape)}")
    if not out.dtype.is_floating_point:
        raise ValueError(f"encoding: expected {name} to return floating features (it must be "
                         f"differentiable in the coordinates), got {out.dtype}")
    if out.dtype != coords.dtype or out.device != coords.device:
        raise ValueError(f"encoding: expected {name} to return features of the coordinates' "
                         f"dtype and device ({coords.dtype}, {coords.device}), got "
                         f"({out.dtype}, {out.device})")
    return int(out.shape[1])


def encode_with_jacobian(encoding: Callable[[Tensor], Tensor],
                         coords: Tensor) -> tuple[Tensor, Tensor]:
    """``(x [N, E], x_jacobian [N, E, D])``: a general encoding and its Jacobian w.r.t. the
    coordinates at every point, by forward mode (``torch.func.jvp``), one pass per coordinate
    axis d with the tangent e_d at every point. The encoding must treat the rows of its input
    independently (then that pass gives column d of every point's Jacobian).

    One batched ``jvp`` per axis, not ``vmap`` over points of ``jacfwd``: torch.compile cannot
    trace forward mode under ``vmap`` (an InferenceMode internal assert on ``_fw_primal``), and
    the batched pass runs the encoding as its author wrote it, on whole chunks."""
    check_coords(coords)
    with torch.no_grad():
        _check_encoded(encoding, coords[:1], encoding(coords[:1]))
        try:
            x, columns = coords, []
            for d in range(coords.shape[1]):
                tangent = torch.zeros_like(coords)
                tangent[:, d] = 1
                x, column = jvp(encoding, (coords,), (tangent,))
                columns.append(column)
            if not columns:
                x = encoding(coords)
        except Exception as e:  # noqa: BLE001 (torch.func raises many kinds; all mean the same)
            raise ValueError(
                f"encoding: could not differentiate {_encoding_name(encoding)} w.r.t. the "
                "coordinates with torch.func (forward mode, torch.func.jvp); it must be a "
                "differentiable torch function of its input, applied row by row (no .item(), "
                f"numpy or data-dependent control flow): {type(e).__name__}: {e}") from e
    jacobian = (torch.stack(columns, dim=-1) if columns
                else x.new_zeros(x.shape + (0,)))
    return x.detach(), jacobian.detach()


def _chunk_points(e: int, dims: int, element_size: int, chunk_size: Optional[int]) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size: expected a positive number of points, got {chunk_size}")
        return int(chunk_size)
    return max(1, ENCODED_CHUNK_BYTES // (e * (1 + dims) * element_size))


def encoded_chunks(coords: Tensor, encoding, chunk_size: Optional[int]):
    """Yields (x, x_jacobian) of consecutive chunks of points; refuses an encoding whose Jacobian
    vanishes at every point (detached from its input, or built from non-differentiable ops)."""
    check_coords(coords)
    if not callable(encoding):
        raise TypeError("encoding: expected an object with affine_sine(), a (matrix, offset, "
                        "periodic) triple, None, or a differentiable encoding module or "
                        f"function, got {type(encoding).__name__}")
    probe = coords[:1] if coords.shape[0] else coords.new_zeros((1, coords.shape[1]))
    with torch.no_grad():
        e = _check_encoded(encoding, probe, encoding(probe))
    step = _chunk_points(e, coords.shape[1], coords.element_size(), chunk_size)
    moving = False
    for start in range(0, coords.shape[0], step):
        x, jacobian = encode_with_jacobian(encoding, coords[start:start + step])
        # A data-dependent check: skipped inside torch.compile, where it would break the graph.
        if not torch.compiler.is_compiling():
            moving = moving or bool(jacobian.ne(0).any())
        yield x, jacobian
    if coords.shape[0] and not moving and not torch.compiler.is_compiling():
        raise ValueError(f"encoding: the Jacobian of {_encoding_name(encoding)} w.r.t. the "
                         "coordinates is zero at every point; is it detached from its input "
                         "(.detach(), torch.no_grad(), a non-differentiable op)?")


def empty_encoded(coords: Tensor, encoding) -> tuple[Tensor, Tensor]:
    probe = coords.new_zeros((1, coords.shape[1]))
    with torch.no_grad():
        e = _check_encoded(encoding, probe, encoding(probe))
    return coords.new_zeros((0, e)), coords.new_zeros((0, e, coords.shape[1]))


def precise(coords: Tensor, encoding, net) -> tuple[Tensor, object]:
    """Coordinates and network in float64 when the encoding's top phases need it (the encodings'
    precision policy, ``Encoding.needs_float64``); otherwise as given."""
    needs = getattr(encoding, "needs_float64", None)
    if callable(needs) and needs(coords.dtype):
        return coords.to(torch.float64), net.to(dtype=torch.float64)
    return coords, net
