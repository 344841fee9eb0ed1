"""The model `specbias analyze` looks at: a `specbias train` checkpoint (with the grid.json saved
beside it), or the user's own module (``--model`` class + state dict, or ``--whole-module``):
read whole from the coordinates (its encoding split off as ``split_model`` does, ``--head`` for
a model with several heads), or as the network an ``--encoding`` feeds (an attribute of the
model, the user's class with its saved state, or one of the package's); and the grid it is
analysed on."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ..data.grids import CoordinateGrid, PlaneSlice
from ..nets.encodings import Encoding, make_encoding
from ..nets.loading import load_saved_module, load_user_model, model_attribute
from ..nets.network import network_from
from ..nets.reading import trace_model
from ..nets.split_model import read_coordinate_model
from ..runs.checkpoints import load_trained_model
from ..runs.files import first_line, safe_torch_load
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

    def to(self, device) -> None:
        """The module and its encoding on ``device`` (an encoding split off the model holds
        the model's buffers as its own)."""
        for part in (self.module, self.encoding):
            if isinstance(part, torch.nn.Module):
                part.to(device)


def _user_model(request: AnalyzeRequest, checkpoint: str):
    """The user's own module from --model/--model-args/--whole-module read from ``checkpoint``,
    as a ValueError on any problem (they are the user's inputs), in the command's terms."""
    try:
        if request.whole_module:
            return load_saved_module(checkpoint)
        return load_user_model(request.model, request.model_args, state_dict_path=checkpoint,
                               state_dict_prefix=request.state_dict_prefix)
    except (TypeError, ImportError, AttributeError, RuntimeError, KeyError, OSError,
            ValueError) as err:
        text = re.sub(r"state_dict_prefix=('[^']*')", r"--state-dict-prefix \1",
                      first_line(err))
        raise ValueError(text.replace("state_dict_prefix:", "--state-dict-prefix:")) from None


def _is_package_encoding(spec: str) -> bool:
    """raw, pe:<L>, rff:<m>:<sigma>[:<seed>]: the package's own kinds."""
    return spec.split(":")[0].strip().lower() in ("raw", "pe", "rff")


def user_encoding(request: AnalyzeRequest):
    """The package's encoding named by --encoding (None: none, or one of the user's, which is
    built per checkpoint by ``_own_encoding``)."""
    if request.encoding is None or not _is_package_encoding(request.encoding):
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


def _own_encoding(request: AnalyzeRequest, module, checkpoint: str):
    """--encoding .ATTRIBUTE of the loaded model, or package.module:Class built with
    --encoding-args and given the state saved under the checkpoint's 'encoding' entry."""
    spec = request.encoding
    flag = f"--encoding {spec!r}"
    try:
        if spec.startswith("."):
            return model_attribute(module, spec[1:])
        enc = load_user_model(spec, request.encoding_args)
    except (TypeError, ImportError, AttributeError, ValueError, OSError) as err:
        raise ValueError(f"{flag}: {first_line(err)}") from None
    if not enc.state_dict():
        return enc
    state = None
    if not request.whole_module:       # a whole saved module is no dict of states
        saved = safe_torch_load(checkpoint, "cpu", ())
        state = saved.get("encoding") if isinstance(saved, dict) else None
    if not isinstance(state, dict):
        raise ValueError(
            f"{flag}: the encoding has parameters or buffers ({', '.join(enc.state_dict())}) "
            f"and {checkpoint!r} holds no 'encoding' state beside the model's; save "
            "{'model': model.state_dict(), 'encoding': encoding.state_dict()}, or keep the "
            "encoding in the model and pass --encoding .<its attribute>")
    try:
        enc.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{flag}: the 'encoding' state in {checkpoint!r} does not fit it "
                         f"(check --encoding-args): {first_line(err)}") from None
    return enc.eval()


def _flag(request: AnalyzeRequest) -> str:
    return "--whole-module" if request.whole_module else "--model"


def _in_flag_terms(err: Exception) -> str:
    """A reading's refusal in the command's terms: ``output='x'`` is ``--head x``."""
    return re.sub(r"output='([^']*)'", r"--head \1", first_line(err))


def _features(enc, dims: int, module, flag: str) -> int:
    """How many features ``enc`` gives ``dims``-D coordinates (evaluated on two points)."""
    if isinstance(enc, Encoding):
        return enc.out_dim
    param = next(module.parameters(), None)
    probe = torch.zeros(2, dims, dtype=param.dtype if param is not None else torch.float32)
    try:
        with torch.no_grad():
            return int(enc(probe).shape[-1])
    except Exception as err:  # noqa: BLE001 (whatever the user's encoding raises)
        raise ValueError(f"{flag}: on {dims}D coordinates (the grid's) it raised "
                         f"{type(err).__name__}: {first_line(err)}; name the encoding the "
                         "network reads") from None


def _user_target(request: AnalyzeRequest, module, checkpoint: str, enc) -> Resolved:
    """A user's module: read whole from the coordinates (no --encoding), or as the network an
    --encoding feeds."""
    dims = request.coord_dim
    if request.encoding is None:
        try:
            found = read_coordinate_model(module, request.head, coord_dim=dims)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{_flag(request)}: {_in_flag_terms(err)}") from None
        net = network_from(found).detach()
        if found.encoding is None and dims is not None and net.in_dim != dims:
            raise ValueError(f"{_flag(request)}: {type(module).__name__} takes {net.in_dim}D "
                             "coordinates (its forward computes no encoding before its first "
                             f"Linear), the grid gives {dims}D points: pass a --grid or --slice "
                             f"of {net.in_dim}D points, or --encoding with the encoding it reads "
                             "(.ATTRIBUTE of the model, package.module:Class, or pe:<L>, "
                             "rff:<m>:<sigma>)")
        return Resolved(net, found.encoding, net.in_dim if dims is None else dims, {}, module)
    enc = _own_encoding(request, module, checkpoint) if enc is None else enc
    try:
        found = trace_model(module, request.head)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{_flag(request)}: {_in_flag_terms(err)}") from None
    if found.encoding is not None:
        raise ValueError(f"--encoding {request.encoding!r}: {type(module).__name__}.forward "
                         "computes its own encoding of the coordinates before its first "
                         "Linear; leave --encoding out (the model is analysed from the "
                         "coordinates with its own)")
    net = network_from(found).detach()
    features = _features(enc, dims, module, f"--encoding {request.encoding!r}")
    if features != net.in_dim:
        raise ValueError(f"--encoding {request.encoding!r} gives {features} features, the "
                         f"model's first layer takes {net.in_dim}; pass the encoding it was "
                         "trained with")
    return Resolved(net, enc, dims, {}, module)


def resolve(request: AnalyzeRequest, checkpoint: str, enc=None) -> Resolved:
    """``checkpoint`` made ready for the analysis; ``enc``: the package's --encoding already
    built (else it is built here)."""
    if request.user_model:
        enc = user_encoding(request) if enc is None else enc
        return _user_target(request, _user_model(request, checkpoint), checkpoint, enc)
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
