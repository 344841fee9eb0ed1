"""The model `specbias analyze` looks at: a `specbias train` checkpoint (with the grid.json saved
beside it), or the user's own module (``--model`` class + state dict, or ``--whole-module``)
with an optional ``--encoding`` in front; and the grid it is analysed on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..data.grids import CoordinateGrid, PlaneSlice
from ..nets.encodings import make_encoding
from ..nets.loading import load_saved_module, load_user_model
from ..nets.network import relu_network
from ..runs.checkpoints import load_trained_model
from ..runs.files import first_line
from .analyze_request import AnalyzeRequest
from .values import precision_problem


@dataclass
class Resolved:
    """One checkpoint made ready: ``target`` for analyze_grid (a network or module),
    ``encoding`` in front of it (None: raw), the coordinate dimension ``dims``, the training
    grid ``saved`` beside a train checkpoint ({} otherwise) and the ``module`` itself."""
    target: Any
    encoding: Any
    dims: int
    saved: dict
    module: Any


def _user_model(request: AnalyzeRequest, checkpoint: str):
    """The user's own module from --model/--model-args/--whole-module read from ``checkpoint``,
    as a ValueError on any problem (they are the user's inputs)."""
    try:
        if request.whole_module:
            return load_saved_module(checkpoint)
        return load_user_model(request.model, request.model_args, state_dict_path=checkpoint)
    except (TypeError, ImportError, AttributeError, RuntimeError, KeyError, OSError) as err:
        raise ValueError(first_line(err)) from None


def user_encoding(request: AnalyzeRequest):
    """The --encoding in front of a --model network (None for raw coordinates)."""
    if request.encoding is None:
        return None
    try:
        enc = make_encoding(request.encoding, request.coord_dim)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--encoding {request.encoding!r}: {err}") from None
    problem = precision_problem(enc, request.coord_range)
    if problem:
        raise ValueError(f"--encoding {request.encoding!r}: {problem}; use fewer levels, a "
                         "smaller sigma" + (" or a smaller --range" if request.coord_range
                                            else ""))
    return enc


def resolve(request: AnalyzeRequest, checkpoint: str, enc=None) -> Resolved:
    """``checkpoint`` made ready for the analysis; ``enc``: the --encoding already built (else
    it is built here)."""
    if request.user_model:
        enc = user_encoding(request) if enc is None else enc
        module = _user_model(request, checkpoint)
        try:
            net = relu_network(module).detach()
        except (TypeError, ValueError) as err:
            raise ValueError(f"--model: {err}") from None
        dims = net.in_dim
        if enc is not None:
            if enc.out_dim != net.in_dim:
                raise ValueError(f"--encoding {request.encoding!r} gives {enc.out_dim} features, "
                                 f"the model's first layer takes {net.in_dim}")
            dims = enc.in_dim
        return Resolved(net, enc, dims, {}, module)
    model, saved = load_trained_model(checkpoint)
    problem = precision_problem(model.encoding, request.coord_range)
    if problem:
        lo, hi = request.coord_range
        raise ValueError(f"--range {lo!r},{hi!r}: for {checkpoint}, {problem}; use a smaller "
                         "--range")
    return Resolved(model, None, model.encoding.in_dim, saved, model)


def default_range(saved: dict) -> tuple[float, float]:
    """The range used without --range: the training range of a train run, else 0,1."""
    return tuple(saved.get("coord_range", (0.0, 1.0)))


def build_grid(request: AnalyzeRequest, dims: Optional[int], saved: dict):
    """(grid, shape) from the request (defaults from ``saved``); ``dims`` None: not checked
    against a model here (an ensemble checks every member when it loads it)."""
    lo_hi = request.coord_range or default_range(saved)
    if request.grid:
        shape = request.grid
    elif "grid_shape" in saved:
        shape = tuple(saved["grid_shape"])
    else:
        raise ValueError("--grid: no grid.json beside the checkpoint; pass --grid N, HxW or "
                         "DxHxW")
    if request.plane is not None:
        if len(shape) != 2:
            raise ValueError(f"--slice: needs a 2D --grid HxW of the plane, got "
                             f"{'x'.join(map(str, shape))!r}")
        origin, u, v = request.plane
        if dims is not None and len(origin) != dims:
            raise ValueError(f"--slice: the model takes {dims}D coordinates, the vectors have "
                             f"{len(origin)} components")
        return PlaneSlice(origin, u, v, shape), shape
    if dims is not None and len(shape) != dims:
        raise ValueError(f"--grid {'x'.join(map(str, shape))!r}: the model takes "
                         f"{dims}D coordinates")
    return CoordinateGrid(shape, lo_hi), shape
