"""`specbias analyze`'s arguments as a typed request, parsed and checked in one place before any
file is read: the jobs (one checkpoint, an ensemble) take the request's fields, never the
argparse namespace."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from ..data.grids import normalize_shape
from .values import parse_range

Vector = tuple[float, ...]


def parse_grid(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--grid {text!r}: expected N (1D), HxW (2D) or DxHxW (3D) with whole "
                         "numbers, such as 512, 256x256 or 64x64x64") from None
    if len(shape) not in (1, 2, 3) or min(shape) < 2:
        raise ValueError(f"--grid {text!r}: expected N, HxW or DxHxW with sizes >= 2")
    return normalize_shape(shape, "--grid")


def parse_slice(text: str) -> tuple[Vector, Vector, Vector]:
    """``"ox,oy,oz;ux,uy,uz;vx,vy,vz"`` -> (origin, u, v)."""
    try:
        parts = [tuple(float(c) for c in p.split(",")) for p in text.split(";")]
    except ValueError:
        parts = []
    if len(parts) != 3 or len({len(p) for p in parts}) != 1:
        raise ValueError(f"--slice {text!r}: expected ORIGIN;U;V, three comma-separated vectors "
                         "of the coordinate dimension, e.g. 0,0,0.5;1,0,0;0,1,0")
    return parts[0], parts[1], parts[2]


def parse_neurons(text: str) -> tuple[tuple[int, int], ...]:
    """``"0:3,2:10"`` -> ((0, 3), (2, 10)) (hidden layer from 0, neuron index)."""
    try:
        pairs = tuple(tuple(int(v) for v in item.split(":", 1)) for item in text.split(",")
                      if item)
    except ValueError:
        pairs = ()
    if not pairs or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"--neurons {text!r}: expected LAYER:INDEX pairs separated by commas, "
                         "such as 0:3,1:10 (layers and indices counted from 0)")
    return pairs


def _model_args(text: Optional[str]) -> Optional[dict]:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--model-args: not valid JSON ({err.msg}); pass an object such as "
                         "'{\"width\": 256}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"--model-args: expected a JSON object such as '{{\"width\": 256}}', "
                         f"got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class AnalyzeRequest:
    """What `specbias analyze` was asked to do. ``grid``/``coord_range``/``plane`` are None when
    not given (the training grid and range of a `specbias train` run are then used)."""

    checkpoints: tuple[str, ...]
    grid: Optional[tuple[int, ...]] = None
    coord_range: Optional[tuple[float, float]] = None
    plane: Optional[tuple[Vector, Vector, Vector]] = None
    model: Optional[str] = None
    model_args: Optional[dict[str, Any]] = None
    whole_module: bool = False
    encoding: Optional[str] = None
    coord_dim: Optional[int] = None
    tile: int = 1 << 18
    grads: bool = False
    boundary: bool = False
    neurons: Optional[tuple[tuple[int, int], ...]] = None   # on a drawn 2D grid
    ids: str = "auto"
    timeout: float = 1800.0
    device: str = "cpu"
    out: Optional[str] = None
    overwrite: bool = False
    command_line: Optional[str] = None      # recorded in the output folder

    @property
    def user_model(self) -> bool:
        """True for the user's own module (--model or --whole-module), False for checkpoints of
        `specbias train`."""
        return bool(self.model or self.whole_module)

    @property
    def grid_text(self) -> str:
        return "x".join(map(str, self.grid)) if self.grid else ""

    @classmethod
    def from_args(cls, args) -> "AnalyzeRequest":
        """Parse and cross-check the flags (a ValueError naming the flag on any problem)."""
        user = bool(args.model or args.whole_module)
        if args.model and args.whole_module:
            raise ValueError("--model and --whole-module: choose one (a class and a state dict, "
                             "or a whole saved module)")
        if args.model_args and not args.model:
            raise ValueError("--model-args: only with --model (the arguments its class takes)")
        if args.encoding is not None and not user:
            raise ValueError(f"--encoding {args.encoding!r}: a checkpoint of `specbias train` "
                             "carries its own encoding, which is used; --encoding is only for "
                             "--model or --whole-module")
        encoding = args.encoding if args.encoding not in (None, "") else None
        if encoding is not None and encoding.strip().lower() == "raw":
            encoding = None
        if args.coord_dim is not None and encoding is None:
            raise ValueError("--coord-dim: only with --model/--whole-module and an --encoding "
                             "other than raw (the coordinate dimension the encoding reads)")
        if encoding is not None and args.coord_dim is None:
            raise ValueError(f"--coord-dim: --encoding {args.encoding!r} needs the coordinate "
                             "dimension it reads (--coord-dim 1, 2 or 3)")
        plane = parse_slice(args.slice) if args.slice else None
        coord_range = parse_range(args.coord_range) if args.coord_range else None
        if plane is not None and coord_range is not None:
            raise ValueError("--range: with --slice the plane's ORIGIN;U;V give the points; "
                             "leave out --range")
        grid = parse_grid(args.grid) if args.grid else None
        if plane is not None and grid is not None and len(grid) != 2:
            raise ValueError(f"--slice: needs a 2D --grid HxW of the plane, got "
                             f"{args.grid!r}")
        return cls(checkpoints=tuple(args.checkpoints), grid=grid, coord_range=coord_range,
                   plane=plane, model=args.model, model_args=_model_args(args.model_args),
                   whole_module=bool(args.whole_module), encoding=encoding,
                   coord_dim=args.coord_dim, tile=args.tile, grads=args.grads == "output",
                   boundary=bool(args.boundary),
                   neurons=parse_neurons(args.neurons) if args.neurons else None,
                   ids=args.ids, timeout=args.timeout, device=args.device, out=args.out,
                   overwrite=bool(args.overwrite),
                   command_line=getattr(args, "command_line", None))
