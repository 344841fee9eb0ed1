"""`specbias train`: one CoordinateMLP trained from flags, recorded by the epoch-keyed monitor.

Every size is checked against memory and every value against what it can mean before anything
is allocated or written; the run folder is claimed for "train" (runs.ownership), so a folder
holding another run, the user's own files or nothing to resume is refused by name."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from ..data.grids import grid_coords
from ..data.samplers import PairSampling
from ..data.signals import load_image, sum_of_sines
from ..nets.encodings import make_encoding
from ..nets.models import CoordinateMLP
from ..plots.frame import count_text
from ..runs.checkpoints import read_checkpoint, write_grid
from ..runs.devices import check_device
from ..runs.files import RunDirectory, atomic_save_npz, first_line, to_jsonable
from ..runs.output_checks import ID_BYTES, check_memory, check_writable_folder
from ..runs.ownership import claim_folder, written_by
from ..train.measurements import DEFAULT_MEASUREMENTS
from ..train.monitor import MonitorConfig
from ..train.recorder import Recorder
from ..train.trainer import (
    RUN_FILE_NAMES, TrainConfig, TrainingDiverged, is_train_checkpoint, prepare_run_folder,
    start_run_folder, train,
)
from .analyze_outputs import WRITER as ANALYZE_WRITER
from .analyze_request import parse_lc
from .plot import RECONSTRUCTION, TRAIN_ANIMATION, TRAIN_WHAT, write_train_figures
from .values import encoding_features, parse_range, precision_problem

IMAGES = ("camera", "astronaut", "coffee", "chelsea", "noise")
WRITER = "train"
#: Every file a run of `specbias train` writes in its folder (recorded before it is written).
TRAIN_FILES = (*RUN_FILE_NAMES, RECONSTRUCTION, f"{TRAIN_ANIMATION}.gif",
               *(f"{stem}.{ext}" for stem in TRAIN_WHAT for ext in ("png", "pdf")))
#: Bytes a record keeps per grid point (region ids and sizes, int64): records stay in memory.
RECORD_BYTES_PER_POINT = 2 * ID_BYTES
#: Bytes a record keeps per grid point with --lc (its local complexity, int32).
LC_BYTES_PER_POINT = 4


def paper_freqs(n: int) -> list[int]:
    """The paper's frequencies 5, 10, ..., 70, keeping those below Nyquist for small grids."""
    return [k for k in range(5, 75, 5) if 2 * k < n]


def _grid_shape(args) -> tuple:
    return (args.n,) if args.signal == "sines" else (args.size, args.size)


def check_sizes(args, shape) -> None:
    """Refuse a run whose memory estimate (an upper one) does not fit, naming its largest
    part's flag: the encoding (an rff matrix is built in float64, the encoded points), the
    parameters with their gradients and Adam's two moments, one step's activations forward and
    backward with a full pass over the grid, and the records (region ids and sizes of every
    point and, with --lc, its local complexity, kept for every record)."""
    points = int(torch.tensor(shape, dtype=torch.float64).prod())
    dims = len(shape)
    features = encoding_features(args.encoding, dims)
    width, depth = args.width, args.depth
    params = features * width + (depth - 1) * width * width + depth * width + 3 * width + 3
    batch = min(args.batch or points, points)
    records = args.epochs // args.record_every + 2
    per_point = RECORD_BYTES_PER_POINT + (LC_BYTES_PER_POINT if args.lc is not None else 0)
    rff = args.encoding.strip().lower().startswith("rff")
    parts = {   # flag(s) and what they size -> bytes
        f"--encoding {args.encoding!r} ({features} features of {points} points)":
            (12 * features * dims if rff else 0) + 4 * (2 * points + batch) * features,
        f"--width {width} --depth {depth} ({params} parameters with {features} inputs, each "
        "with its gradient and Adam's two moments)": 16 * params,
        f"--width {width} --depth {depth} on --{'n' if dims == 1 else 'size'}/--batch "
        f"({points} points, {batch} a step)":   # a step's saved activations, a full pass
            4 * width * (3 * depth * batch + 2 * points),
        f"--epochs {args.epochs} / --record-every {args.record_every} ({records} records of "
        f"{points} points)": per_point * records * points,
    }
    largest = max(parts, key=parts.get)
    check_memory(sum(parts.values()), f"{largest}: the run",
                 "use smaller sizes (that flag above all)")


def _target(args):
    if args.signal == "sines":
        return sum_of_sines(args.n, paper_freqs(args.n)).y.reshape(-1, 1), (args.n,)
    if args.signal in IMAGES or os.path.exists(args.signal):
        try:
            img = load_image(args.signal, size=args.size, grey=True)
        except ValueError as err:
            reason = first_line(err).removeprefix("name_or_path: ")
            raise ValueError(f"--signal {args.signal!r}: {reason}") from None
        return img.reshape(-1, img.shape[-1]), tuple(img.shape[:2])
    raise ValueError(f"--signal {args.signal!r}: expected 'sines', one of {', '.join(IMAGES)} "
                     "or an existing image path")


def _model(args, shape, lo_hi, out_dim):
    dims = len(shape)
    try:
        encoding = make_encoding(args.encoding, dims)
    except ValueError as err:
        raise ValueError(f"--encoding {args.encoding!r}: {first_line(err)}") from None
    problem = precision_problem(encoding, lo_hi)
    if problem:
        raise ValueError(f"--encoding {args.encoding!r} on --range {args.coord_range}: "
                         f"{problem}; use fewer levels, a smaller sigma or a smaller --range")
    return CoordinateMLP(encoding, args.depth, args.width, out_dim=out_dim, seed=args.seed,
                         in_dim=dims)


def monitor_config(lc, shape, seed: int) -> MonitorConfig:
    """The recorder's settings: the default measurements and, with ``lc`` (``parse_lc``'s
    radius or "step"), the sampled local complexity at that radius ("step": None, which the
    monitor turns into the grid step). Without ``lc`` they are those of a run recorded before
    --lc existed, so such runs still resume."""
    pairs = PairSampling().fitted(shape)
    if lc is None:
        return MonitorConfig(pairs=pairs, seed=seed)
    return MonitorConfig(pairs=pairs, seed=seed, measurements=(*DEFAULT_MEASUREMENTS, "lc"),
                         lc_radius=None if lc == "step" else lc, lc_method="sampled")


def summary_line(result, shape, out: str, figures) -> str:
    """What `specbias train` prints at the end: epochs and time, the final loss, the last
    record's region count (and mean local complexity when recorded), the files written."""
    last = result.records[-1] if result.records else {}
    regions = count_text(last["regions"], math.prod(shape)) if "regions" in last else "? regions"
    loss = f"final loss {result.loss[-1]:.4g}, " if result.loss else ""
    lc = last.get("lc")
    mean_lc = (f", mean local complexity {lc['mean']:.3g} neurons per point (r = "
               f"{lc['radius']:.4g})") if lc else ""
    stems = sorted({os.path.basename(p).split(".")[0] for p in figures})
    grid = "x".join(map(str, shape)) if len(shape) > 1 else f"{shape[0]}-point"
    return (f"trained {result.epochs} epochs in {result.timings['train_seconds']:.1f}s (records "
            f"{result.timings['record_seconds']:.1f}s); {loss}{regions}{mean_lc} on the {grid} "
            f"training grid; wrote {out}/checkpoint.pt, results.json, arrays.npz; figures: "
            f"{', '.join(stems)}")


def _check_initial_outputs(model, coords, target, coord_range: str) -> None:
    """The network's outputs and squared error at initialisation must be finite: coordinates
    far beyond the unit range overflow float32 in a network on raw inputs."""
    with torch.no_grad():
        mse = float((model(coords) - target).square().mean())
    if not torch.isfinite(torch.tensor(mse)):
        raise ValueError(f"--range {coord_range}: the network's squared error at "
                         f"initialisation is {mse} (its outputs overflow float32 on coordinates "
                         "this large); use a smaller --range or an encoding")


def _analyses_of(out: str, checkpoint: Path) -> list[Path]:
    """The files `specbias analyze` wrote into ``out`` about ``checkpoint``: each output
    ``<name>.json`` records its source; every file of that output starts with ``<name>`` (the
    longest such name decides). They describe the run an --overwrite replaces."""
    written = written_by(out, ANALYZE_WRITER)
    sources = {}
    for rel in written:
        if rel.endswith(".json"):
            try:
                with open(os.path.join(out, rel)) as f:
                    source = json.load(f).get("source")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(source, str):
                sources[rel[:-len(".json")]] = os.path.realpath(source)
    mine = []
    for rel in written:
        names = [n for n in sources if rel == n + ".json" or rel.startswith((n + ".", n + "_"))]
        if names and sources[max(names, key=len)] == os.path.realpath(checkpoint):
            mine.append(Path(out) / rel)
    return mine


def _check_resumable_checkpoint(out: str) -> None:
    """--resume over a checkpoint.pt that no `specbias train` wrote (damaged, or replaced by
    another file) is refused before anything is written."""
    path = Path(out) / RunDirectory.CHECKPOINT
    if not path.is_file():
        return
    try:
        state = read_checkpoint(path)
    except ValueError as err:
        raise ValueError(f"--resume: {first_line(err)}; pass --overwrite to start the run "
                         "again") from None
    if not is_train_checkpoint(state):
        raise ValueError(f"--resume: {str(path)!r} is not a checkpoint of `specbias train` "
                         f"(it holds a {type(state).__name__}); pass --overwrite to start the "
                         "run again")


def train_command(args) -> None:
    """One CoordinateMLP trained by specbias_ext.train.trainer with every measurement recorded."""
    check_device(args.device)
    lo_hi = parse_range(args.coord_range)
    lc = parse_lc(args.lc) if args.lc is not None else None
    check_sizes(args, _grid_shape(args))
    check_writable_folder(args.out, "--out")
    own = claim_folder(args.out, WRITER, resume=args.resume, overwrite=args.overwrite,
                       how_to_resume="--resume", how_to_overwrite="--overwrite",
                       command=getattr(args, "command_line", None))
    for name in TRAIN_FILES:
        own.check_writable(name)
    if args.resume:
        _check_resumable_checkpoint(args.out)
    target, shape = _target(args)
    coords = grid_coords(shape, lo_hi)
    model = _model(args, shape, lo_hi, target.shape[1])
    _check_initial_outputs(model, coords, target, args.coord_range)
    freqs = paper_freqs(args.n) if args.signal == "sines" else None
    config = monitor_config(lc, shape, args.seed)
    recorder = Recorder(coords, shape, target, config, signal_freqs=freqs,
                        every=args.record_every, at=[args.epochs])
    train_config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch,
                               seed=args.seed, device=args.device, quiet=args.quiet,
                               checkpoint_every=args.record_every)
    grid = {"grid_shape": list(shape), "coord_range": list(lo_hi), "signal": args.signal}
    recorder_settings = recorder.settings()
    recorder_settings.pop("at", None)     # the final epoch: more --epochs may resume a run
    run_config = to_jsonable({
        "model": model.describe(), "data": {"signal": args.signal, "range": list(lo_hi),
                                            **({"n": args.n} if args.signal == "sines"
                                               else {"size": args.size})},
        "grid": grid, "optimizer": train_config.trajectory_settings(),
        "recorder": recorder_settings, "seed": args.seed})
    remove = prepare_run_folder(args.out, run_config, resume=args.resume,
                                overwrite=args.overwrite)
    if args.overwrite:
        remove = sorted(set(remove) | set(_analyses_of(args.out, Path(args.out) /
                                                       "checkpoint.pt")))
    own.record(*TRAIN_FILES)
    start_run_folder(args.out, run_config, remove)
    write_grid(args.out, grid)
    try:
        result = train(model, coords, target, train_config, monitor=recorder,
                       run_dir=args.out, resume=args.resume, overwrite=args.overwrite,
                       figures=False)   # drawn below with the grid's coordinates and the fit
    except TrainingDiverged as err:
        kept = (f"{args.out!r} keeps the run up to epoch {err.saved_epoch}"
                if err.saved_epoch is not None else f"{args.out!r} holds no checkpoint yet")
        raise ValueError(f"--lr {args.lr:g}: training diverged at epoch {err.epoch} (loss "
                         f"{err.loss:.4g}); {kept}: start it again with a smaller --lr and "
                         "--overwrite, or remove the folder") from None
    with torch.no_grad():   # the final fit, saved so that `specbias plot` redraws it
        fit = torch.cat([model(c.to(args.device)).float().cpu()
                         for c in coords.split(1 << 16)]).numpy()
    atomic_save_npz(os.path.join(args.out, RECONSTRUCTION), fit=fit.reshape(shape + (-1,)),
                    target=target.numpy().reshape(shape + (-1,)))
    figures = write_train_figures(args.out)
    print(summary_line(result, shape, args.out, figures))
