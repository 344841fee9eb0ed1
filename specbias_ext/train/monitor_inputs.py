"""The monitor's argument checks, each naming the argument and what was expected, and the
grid inference: coordinates are taken as a grid only when they are one."""
from __future__ import annotations

import math
import os
from typing import Any, Optional, Sequence

import torch

from .._validate import int_at_least
from ..data.grids import normalize_shape
from ..nets.encodings import make_encoding
from ..nets.network import ReluNetwork
from ..runs.output_checks import check_writable_folder
from .measurements import DivergedError

Tensor = torch.Tensor

# Relative spread of the spacing accepted as "evenly spaced": grid_coords in float32 spaces
# points to about 1e-7 of the range; anything beyond 1e-3 is not a grid.
_SPACING_TOLERANCE = 1e-3


def _evenly_increasing(values: Tensor) -> bool:
    """Strictly increasing with equal steps (within the tolerance); one value counts."""
    if values.numel() < 2:
        return True
    steps = values.diff()
    return bool((steps > 0).all()) and \
        float(steps.max() - steps.min()) <= _SPACING_TOLERANCE * float(steps.mean())


def infer_grid_shape(coords: Tensor) -> Optional[tuple[int, ...]]:
    """The grid ``coords [N, D]`` are laid out on, or None when they are not one.

    ``(N,)`` for 1D coordinates sorted in increasing order and evenly spaced (N >= 2);
    ``(H, W)`` for 2D coordinates on a row-major grid (``grid_coords``): the first coordinate
    constant along each row and the second along each column, both evenly increasing. Anything
    else (unsorted or scattered points) is not a grid, so no neighbour or pair statistics.
    """
    n, d = coords.shape
    c = coords.detach().to(device="cpu", dtype=torch.float64)
    if d == 1 and n >= 2:
        return (n,) if _evenly_increasing(c[:, 0]) else None
    if d == 2 and n >= 2:
        h, w = int(torch.unique(c[:, 0]).numel()), int(torch.unique(c[:, 1]).numel())
        if h * w != n:
            return None
        rows, cols = c[:, 0].reshape(h, w), c[:, 1].reshape(h, w)
        if bool((rows == rows[:, :1]).all()) and bool((cols == cols[:1]).all()) and \
                _evenly_increasing(rows[:, 0]) and _evenly_increasing(cols[0]):
            return (h, w)
    return None


def check_coords(coords: Any) -> Tensor:
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        raise ValueError(f"coords: expected a Tensor [N, D], got "
                         f"{list(coords.shape) if isinstance(coords, Tensor) else coords!r}")
    if coords.shape[0] == 0:
        raise ValueError("coords: expected at least one point, got 0 rows")
    if not coords.dtype.is_floating_point or not bool(torch.isfinite(coords).all()):
        raise ValueError("coords: expected finite floating-point coordinates")
    return coords.detach()


def grid_of(coords: Tensor, grid_shape: Optional[Sequence[int]]) -> Optional[tuple[int, ...]]:
    """``grid_shape`` checked against the coordinates, or the inferred grid (None: not one)."""
    if grid_shape is None:
        return infer_grid_shape(coords)
    shape = normalize_shape(grid_shape, "grid_shape")
    if math.prod(shape) != coords.shape[0]:
        raise ValueError(f"grid_shape: {shape} holds {math.prod(shape)} points, coords has "
                         f"{coords.shape[0]} rows")
    return shape


def no_grid_note(dropped: Sequence[str], regions: bool, coords: Tensor) -> str:
    """What a monitor on points that are not a grid leaves out ("" when nothing), and how to
    get it."""
    missing = list(dropped) + (["neighbor_boundary_frac"] if regions else [])
    if not missing:
        return ""
    n, d = coords.shape
    return (f"coords: the {n} points ({d}-D) are not a sorted, evenly spaced grid, so the monitor "
            f"records only what needs no neighbours (without {', '.join(missing)}); pass "
            "grid_shape= if the rows are a row-major grid")


def check_target(target: Any, n: int) -> Tensor:
    if not isinstance(target, Tensor):
        raise ValueError(f"target: expected a Tensor, got {type(target).__name__}")
    t = target.detach()
    if t.dim() == 1:
        t = t.unsqueeze(1)
    elif t.dim() == 3:
        t = t.reshape(-1, t.shape[2])
    if t.dim() != 2 or t.shape[0] != n:
        raise ValueError(f"target: expected [N], [N, C] or [H, W, C] with N = {n}, got "
                         f"{list(target.shape)}")
    if not t.dtype.is_floating_point or not bool(torch.isfinite(t).all()):
        raise ValueError("target: expected finite floating-point values")
    return t


def check_every(every: Any) -> Optional[int]:
    if every is None:
        return None
    try:
        if isinstance(every, bool):
            raise ValueError(every)
        return int_at_least(every, "every", 1)
    except ValueError:
        raise ValueError(f"every: expected an int >= 1 (steps between records) or None, got "
                         f"{every!r}") from None


def check_at(at: Any) -> set[int]:
    if at is None:
        return set()
    if isinstance(at, (str, bytes)) or not hasattr(at, "__iter__"):
        raise ValueError(f"at: expected a list of steps (ints >= 0), got {at!r}")
    steps = set()
    for step in at:
        try:
            if isinstance(step, bool):
                raise ValueError(step)
            steps.add(int_at_least(step, "at", 0))
        except ValueError:
            raise ValueError(f"at: expected a list of steps (ints >= 0), got {at!r}") from None
    return steps


def check_step(step: Any, step_name: str) -> int:
    try:
        return int_at_least(step, step_name, 0)
    except ValueError:
        raise ValueError(f"{step_name}: expected an int >= 0, got {step!r}") from None


def check_step_name(step_name: Any) -> str:
    if not isinstance(step_name, str) or not step_name.isidentifier():
        raise ValueError(f"step_name: expected a name such as 'step' or 'epoch', got "
                         f"{step_name!r}")
    return step_name


def resolve_encoding(encoding: Any, in_dim: int):
    """None, a module or callable, or a spec string (``'pe:4'``, ``'rff:256:10'``) built with
    ``make_encoding`` for ``in_dim``-D coordinates."""
    if encoding is None or callable(encoding):
        return encoding
    if isinstance(encoding, str):
        return make_encoding(encoding, in_dim)
    raise ValueError(f"encoding: expected an encoding module, a callable or a spec string such "
                     f"as 'pe:4' or 'rff:256:10', got {type(encoding).__name__}")


def check_out(out: Any) -> Optional[str]:
    """``out`` as a folder path (None: records stay in memory)."""
    if out is None:
        return None
    if not isinstance(out, (str, os.PathLike)):
        raise ValueError(f"out: expected a folder path or None, got {type(out).__name__}")
    if str(os.fspath(out)).strip() == "":
        raise ValueError("out: empty path; give a folder such as out='runs/monitor', or "
                         "out=None to keep the records in memory only")
    return check_writable_folder(os.fspath(out), "out")


def check_network(net: ReluNetwork, step_name: str, step: int) -> None:
    """A network the monitor can measure: float32/float64 with finite weights."""
    if net.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"model: its parameters are {net.dtype}; the monitor measures float32 "
                         "or float64 networks (record a float32 copy, e.g. "
                         "copy.deepcopy(model).float(), or train in float32)")
    params = [t for t in (*net.weights, *net.biases) if t is not None]
    if not all(bool(torch.isfinite(t).all()) for t in params):
        raise DivergedError(f"model: its weights hold NaN or inf at {step_name} {step}")
