"""The arguments of a grid analysis, checked and resolved: the model as a ``ReluNetwork`` and its
encoding, the grid, the tile size, ``grad_out``, the local-complexity settings and where the ids
go."""
from __future__ import annotations

from typing import Any, Optional

from ..data.grids import CoordinateGrid, PlaneSlice
from ..measure.complexity import METHODS as LC_METHODS, check_radius
from ..nets.network import ReluNetwork, network_from, relu_network
from ..nets.split_model import read_coordinate_model

IDS_MODES = ("memory", "file", "none")


def resolve_model(model, encoding=None, *,
                  coord_dim: Optional[int] = None) -> tuple[ReluNetwork, Any]:
    """``(net, encoding)`` of what the analysis takes.

    ``model``: the user's whole model, coordinates in (its encoding, whatever its forward computes
    before the first Linear, is split off as ``split_model`` does; a ``CoordinateMLP`` gives its
    own encoding), or a ``ReluNetwork`` or a module starting at its first Linear with
    ``encoding`` mapping coordinates to its input (an Encoding module, a module or function of
    the coordinates; None: raw coordinates). ``coord_dim``: the coordinates' width, for a forward
    that branches on the input's shape. A model with several heads is refused with the
    ``output=`` to pick one: split it with ``split_model(model, output=...)`` and pass the
    network with ``encoding=``.
    """
    if isinstance(model, ReluNetwork):
        return model, encoding
    if encoding is not None:
        return relu_network(model), encoding
    try:
        found = read_coordinate_model(model, coord_dim=coord_dim)
    except TypeError as err:
        if "output=" not in str(err):
            raise
        raise TypeError(f"{err}; for the analysis, split it with encoding, net = "
                        "split_model(model, output=...) and pass net with "
                        "encoding=encoding") from None
    if found.encoding is None and callable(getattr(model, "encoding", None)):
        return network_from(found), model.encoding   # a module that keeps it beside the MLP
    return network_from(found), found.encoding


def check_lc(radius, method: str) -> tuple[Optional[float], str]:
    """``(radius, method)`` of the local complexity: None (not measured) or a finite radius > 0
    in coordinate units, and one of ``measure.complexity.METHODS``."""
    if method not in LC_METHODS:
        raise ValueError(f"lc_method: expected one of {', '.join(LC_METHODS)}, got {method!r}")
    return (None if radius is None else check_radius(radius, "lc_radius")), method


def check_tile(tile) -> int:
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise ValueError(f"tile: expected an int >= 1 (points per tile), got {tile!r}")
    return tile


def check_grad_out(grad_out):
    """None, a function of a tile's coordinates returning ``[T, out]``, or "output"."""
    if grad_out is None or callable(grad_out) or (isinstance(grad_out, str) and
                                                  grad_out == "output"):
        return grad_out
    raise TypeError("grad_out: expected a function of the coordinates [T, D] returning "
                    f"[T, out], or 'output' (the gradient of the output), got {grad_out!r}")


def check_grid(grid):
    if not isinstance(grid, (CoordinateGrid, PlaneSlice)):
        raise TypeError("grid: expected a grids.CoordinateGrid or grids.PlaneSlice, got "
                        f"{type(grid).__name__}")
    return grid


def check_ids(ids: str) -> str:
    if ids not in IDS_MODES:
        raise ValueError(f"ids: expected 'memory', 'file' or 'none', got {ids!r}")
    return ids
