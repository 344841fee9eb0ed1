"""`specbias analyze`'s arguments as a typed request, parsed and checked in one place before any
file is read: the jobs (one checkpoint, an ensemble) take the request's fields, never the
argparse namespace."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..data.grids import normalize_shape
from ..measure.complexity import check_radius
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


def parse_lc(text: str):
    """``--lc RADIUS``: a finite radius > 0 in coordinate units, or "step" (the grid step)."""
    if text.strip().lower() == "step":
        return "step"
    try:
        return check_radius(float(text), "--lc")
    except ValueError:
        raise ValueError(f"--lc: expected a radius > 0 in coordinate units (a number such as "
                         f"0.0039) or 'step' for the grid step, got {text!r}") from None


def _model_args(text: Optional[str], flag: str = "--model-args") -> Optional[dict]:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{flag}: not valid JSON ({err.msg}); pass an object such as "
                         "'{\"width\": 256}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag}: expected a JSON object such as '{{\"width\": 256}}', "
                         f"got {type(value).__name__}")
    return value


def _coord_dim(given: Optional[int], grid, plane) -> Optional[int]:
    """The coordinate dimension: what the --slice or --grid says, else --coord-dim."""
    said = len(plane[0]) if plane is not None else (len(grid) if grid else None)
    if given is not None and said is not None and given != said:
        where = "--slice's vectors have" if plane is not None else \
            f"--grid {'x'.join(map(str, grid))!r} has"
        raise ValueError(f"--coord-dim {given}: the {where} {said} coordinates; leave "
                         "--coord-dim out (the grid says it)")
    return said if said is not None else given


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
    encoding: Optional[str] = None          # a package kind, pkg.mod:Class or .attribute
    encoding_args: Optional[dict[str, Any]] = None
    coord_dim: Optional[int] = None         # from --grid/--slice (or --coord-dim)
    head: Optional[str] = None              # the Linear read as the head (split_model's output=)
    state_dict_prefix: Optional[str] = None  # kept (and removed) from the file's keys
    tile: int = 1 << 18
    grads: bool = False
    boundary: bool = False
    lc: Optional[Union[float, str]] = None  # the local-complexity radius, or "step"
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

    def lc_radius(self, grid) -> Optional[float]:
        """The --lc radius on ``grid`` in coordinate units: ``grid.step`` for "step", None
        without --lc."""
        return grid.step if self.lc == "step" else self.lc

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
        head = args.head or None
        encoding_args = args.encoding_args
        if args.state_dict_prefix and not args.model:
            raise ValueError("--state-dict-prefix: only with --model (the prefix of the state "
                             "dict's keys to read the model from)")
        if head is not None and not user:
            raise ValueError(f"--head {head!r}: a checkpoint of `specbias train` has one head; "
                             "--head is only for --model or --whole-module")
        if encoding_args and (encoding is None or ":" not in encoding or
                              encoding.split(":")[0].strip().lower() in ("pe", "rff")):
            raise ValueError("--encoding-args: only with --encoding package.module:Class (the "
                             "arguments your encoding's class takes)")
        plane = parse_slice(args.slice) if args.slice else None
        coord_range = parse_range(args.coord_range) if args.coord_range else None
        if plane is not None and coord_range is not None:
            raise ValueError("--range: with --slice the plane's ORIGIN;U;V give the points; "
                             "leave out --range")
        grid = parse_grid(args.grid) if args.grid else None
        if plane is not None and grid is not None and len(grid) != 2:
            raise ValueError(f"--slice: needs a 2D --grid HxW of the plane, got "
                             f"{args.grid!r}")
        coord_dim = _coord_dim(args.coord_dim, grid, plane)
        if encoding is not None and coord_dim is None:
            raise ValueError(f"--grid: --encoding {args.encoding!r} reads coordinates whose "
                             "dimension the grid gives; pass --grid N, HxW or DxHxW (or "
                             "--slice)")
        lc = parse_lc(args.lc) if args.lc is not None else None
        return cls(checkpoints=tuple(args.checkpoints), grid=grid, coord_range=coord_range,
                   plane=plane, model=args.model, model_args=_model_args(args.model_args),
                   whole_module=bool(args.whole_module), encoding=encoding,
                   encoding_args=_model_args(encoding_args, "--encoding-args"),
                   coord_dim=coord_dim, head=head,
                   state_dict_prefix=args.state_dict_prefix or None, tile=args.tile,
                   grads=args.grads == "output", boundary=bool(args.boundary), lc=lc,
                   neurons=parse_neurons(args.neurons) if args.neurons else None,
                   ids=args.ids, timeout=args.timeout, device=args.device, out=args.out,
                   overwrite=bool(args.overwrite),
                   command_line=getattr(args, "command_line", None))
