"""`specbias analyze`: region analysis of a saved model on a grid of any size, streamed tile by
tile (region ids and sizes, neighbour Hamming per axis, dead / always-on neurons), optionally
sharded over the processes of `torchrun`, with a region map for grids small enough to draw.

The model is a `specbias train` checkpoint, or the user's own module: `--model pkg.mod:Class`
(built with `--model-args` JSON) and a state-dict file, or with `--whole-module` a module saved
whole with `torch.save(model)`; files are read with `torch.load(weights_only=True)`.

Several checkpoints make an ensemble (`analysis.analyze_ensemble`): each is analysed alone on the
grid, the checkpoints shared out over the processes of `torchrun` (checkpoint k on rank k mod P),
and the statistics across them go to `ensemble_regions_<grid>.json`.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import torch

from ..runs.devices import check_device
from ..data.grids import CoordinateGrid, PlaneSlice, normalize_shape
from ..runs.output_checks import available_memory_bytes, check_writable_folder
from ..runs.checkpoints import load_trained_model, read_grid
from ..runs.files import atomic_save_npz, atomic_write_json
from ..runs.provenance import with_provenance
from ..plots.frame import count_text

#: Largest grids drawn as a region map (points); larger ones write numbers only.
MAX_MAP_POINTS = {1: 1 << 20, 2: 4096 * 4096}


def _numpy(value):
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def parse_grid(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--grid {text!r}: expected N (1D), HxW (2D) or DxHxW (3D) with whole "
                         "numbers, such as 512, 256x256 or 64x64x64") from None
    if len(shape) not in (1, 2, 3) or min(shape) < 2:
        raise ValueError(f"--grid {text!r}: expected N, HxW or DxHxW with sizes >= 2")
    return normalize_shape(shape, "--grid")


def parse_slice(text: str) -> tuple[list[float], list[float], list[float]]:
    """``"ox,oy,oz;ux,uy,uz;vx,vy,vz"`` -> (origin, u, v)."""
    try:
        parts = [[float(c) for c in p.split(",")] for p in text.split(";")]
    except ValueError:
        parts = []
    if len(parts) != 3 or len({len(p) for p in parts}) != 1:
        raise ValueError(f"--slice {text!r}: expected ORIGIN;U;V, three comma-separated vectors "
                         "of the coordinate dimension, e.g. 0,0,0.5;1,0,0;0,1,0")
    return parts[0], parts[1], parts[2]


def choose_ids(mode: str, points: int, folder: str, available=None, free_disk=None) -> str:
    """Where the per-point region ids go: memory when they fit in a quarter of the available
    memory, else a memory-mapped .npy file when the disk has room; refused otherwise."""
    need = 8 * points
    available = available_memory_bytes() if available is None else available
    if mode in ("memory", "auto") and (available is None or need <= available // 4):
        return "memory"
    if mode == "memory":
        raise ValueError(f"--ids memory: the ids need about {need / 2**30:.1f} GiB, "
                         f"{available / 2**30:.1f} GiB available; use --ids file or --ids none, "
                         "or a smaller --grid")
    if mode == "none":
        return "none"
    free_disk = shutil.disk_usage(folder).free if free_disk is None else free_disk
    if need > free_disk:
        grid_msg = f"about {need / 2**30:.1f} GiB of ids ({points} points x 8 bytes)"
        raise ValueError(f"--grid: {grid_msg} fit neither in memory "
                         f"({(available or 0) / 2**30:.1f} GiB available) nor on disk "
                         f"({free_disk / 2**30:.1f} GiB free in {folder!r}); use --ids none "
                         "for the statistics alone, or a smaller --grid")
    return "file"


def _user_model(args, checkpoint=None):
    """The user's own module from --model/--model-args/--whole-module (read from ``checkpoint``,
    default ``args.checkpoint``), as a ValueError on any problem (they are the user's inputs)."""
    from ..nets.loading import load_saved_module, load_user_model

    checkpoint = args.checkpoint if checkpoint is None else checkpoint
    try:
        if args.whole_module:
            return load_saved_module(checkpoint)
        model_args = json.loads(args.model_args) if args.model_args else None
        return load_user_model(args.model, model_args, state_dict_path=checkpoint)
    except json.JSONDecodeError as err:
        raise ValueError(f"--model-args: not valid JSON ({err.msg}); pass an object such as "
                         "'{\"width\": 256}'") from None
    except (TypeError, ImportError, AttributeError, RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(first) from None


def _user_encoding(args):
    """The --encoding in front of a --model network (None for raw coordinates)."""
    from ..nets.encodings import make_encoding

    if not args.encoding or args.encoding == "raw":
        return None
    try:
        if args.coord_dim is None:
            raise ValueError("--coord-dim: give the coordinate dimension the encoding reads")
        return make_encoding(args.encoding, args.coord_dim)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--encoding {args.encoding!r}: {err}") from None


def _resolve(args, checkpoint=None, enc=None):
    """(network or module for analyze_grid, encoding, coordinate dimension, saved grid info,
    module) of ``checkpoint`` (default ``args.checkpoint``); ``enc``: the --encoding already
    built (else it is built here)."""
    from ..nets.network import relu_network

    checkpoint = args.checkpoint if checkpoint is None else checkpoint
    if args.model or args.whole_module:
        module = _user_model(args, checkpoint)
        try:
            net = relu_network(module).detach()
        except (TypeError, ValueError) as err:
            raise ValueError(f"--model: {err}") from None
        enc = _user_encoding(args) if enc is None else enc
        dims = net.in_dim
        if enc is not None:
            if enc.out_dim != net.in_dim:
                raise ValueError(f"--encoding {args.encoding!r} gives {enc.out_dim} features, "
                                 f"the model's first layer takes {net.in_dim}")
            dims = enc.in_dim
        return net, enc, dims, {}, module
    model, saved = load_trained_model(checkpoint)
    return model, None, model.encoding.in_dim, saved, model


def _grid(args, dims, saved: dict):
    """(grid, shape) from the flags (defaults from ``saved``); ``dims`` None: not checked
    against a model here (an ensemble checks every member when it loads it)."""
    lo_hi = tuple(saved.get("coord_range", (0.0, 1.0)))
    if args.coord_range:
        try:
            lo_hi = tuple(float(v) for v in args.coord_range.split(","))
        except ValueError:
            lo_hi = ()
        if len(lo_hi) != 2:
            raise ValueError(f"--range {args.coord_range!r}: expected lo,hi such as 0,1")
    if args.grid:
        shape = parse_grid(args.grid)
    elif "grid_shape" in saved:
        shape = tuple(saved["grid_shape"])
    else:
        raise ValueError("--grid: no grid.json beside the checkpoint; pass --grid N, HxW or "
                         "DxHxW")
    if args.slice:
        if len(shape) != 2:
            raise ValueError(f"--slice: needs a 2D --grid HxW of the plane, got {args.grid!r}")
        origin, u, v = parse_slice(args.slice)
        if dims is not None and len(origin) != dims:
            raise ValueError(f"--slice: the model takes {dims}D coordinates, the vectors have "
                             f"{len(origin)} components")
        return PlaneSlice(origin, u, v, shape), shape
    if dims is not None and len(shape) != dims:
        raise ValueError(f"--grid {args.grid or 'x'.join(map(str, shape))!r}: the model takes "
                         f"{dims}D coordinates")
    return CoordinateGrid(shape, lo_hi), shape


def parse_neurons(text: str) -> list[tuple[int, int]]:
    """``"0:3,2:10"`` -> [(0, 3), (2, 10)] (hidden layer from 0, neuron index)."""
    try:
        return [tuple(int(v) for v in item.split(":", 1)) for item in text.split(",") if item]
    except ValueError:
        raise ValueError(f"--neurons {text!r}: expected LAYER:INDEX pairs separated by commas, "
                         "such as 0:3,1:10 (layers counted from 0)") from None


def _label(args, module, enc) -> tuple[str, dict | None]:
    """(figure label: network and encoding, the encoding's description)."""
    from ..plots.fits import encoding_label, model_label

    if hasattr(module, "describe") and hasattr(module, "encoding"):
        desc = module.describe()
        return model_label(desc), desc.get("encoding")
    enc_desc = enc.describe() if enc is not None else {"name": "raw"}
    return ", ".join(p for p in (type(module).__name__, encoding_label(enc_desc)) if p), enc_desc


def _target_1d(saved: dict, grid, shape):
    """The sum of sines a `specbias train` run fitted, on this 1D grid of its range (None when
    the run fitted something else, the grid covers another range or is too coarse for it)."""
    from ..data.signals import sum_of_sines
    from .train import paper_freqs

    if saved.get("signal") != "sines" or not isinstance(grid, CoordinateGrid) or \
            list(grid.coord_range) != list(saved.get("coord_range", (0.0, 1.0))):
        return None
    freqs = paper_freqs(int(saved["grid_shape"][0]))
    if 2 * max(freqs, default=0) >= shape[0]:
        return None    # a grid too coarse for the target's top frequency would alias it
    return sum_of_sines(shape[0], freqs).y.numpy()


def _draw(args, result, stats, arrays, grid, shape, model, enc, module, saved, device, out,
          name) -> tuple[list, str]:
    """The maps of a 1D/2D grid small enough to draw: ``<name>_maps.npz`` and the figures
    (PNG + PDF); returns (paths, one-line summary)."""
    from ..analysis.point_maps import balanced_neurons, point_maps
    from ..plots.analysis_figures import analysis_figures, maps_summary, meta_array
    from ..plots.output import save_figure

    if result.ids is None or len(shape) == 3 or \
            result.num_points > MAX_MAP_POINTS.get(len(shape), 0):
        return [], ""
    if args.neurons:
        neurons = parse_neurons(args.neurons)
    else:
        neurons = balanced_neurons(result.bit_counts, result.layer_bits, result.num_points,
                                   [0, len(result.layer_bits) - 1])
    maps = point_maps(model, grid, result.ids, result.num_regions, encoding=enc, tile=args.tile,
                      neurons=neurons if len(shape) == 2 else (), boundary=args.boundary,
                      grads=args.grads == "output", device=device)
    label, enc_desc = _label(args, module, enc)
    maps["meta"] = meta_array(label, enc_desc)
    if len(shape) == 1:
        target = _target_1d(saved, grid, shape)
        if target is not None:
            maps["target"] = target
    atomic_save_npz(os.path.join(out, f"{name}_maps.npz"), **maps)
    paths = []
    for suffix, fig in analysis_figures(stats, arrays, maps).items():
        paths += save_figure(fig, os.path.join(out, name + suffix), ("png", "pdf"))
    return paths, maps_summary(stats, maps)


def _grid_tag(args, shape) -> str:
    """The grid part of the output names: ``256x256``, ``64x64_slice`` for a plane slice."""
    return "x".join(map(str, shape)) + ("_slice" if args.slice else "")


#: Labels a member of an ensemble cannot take (the ensemble's own file would have its name).
RESERVED_LABELS = ("ensemble",)


def member_labels(paths) -> list[str]:
    """Distinct labels for the output files of several checkpoints: the shortest tail of their
    paths (folders, then the file name without its extension, joined by '_') that tells them
    apart, ignoring case; the file name is left out when every checkpoint has the same one (the
    checkpoint.pt of `specbias train` runs: runs/pe4/s0/checkpoint.pt -> "s0"). Leading dots
    are dropped (no hidden files); a label is never "ensemble"."""
    parts = []
    for p in paths:
        a = os.path.abspath(os.fspath(p))
        folders = [c for c in os.path.dirname(a).split(os.sep) if c]
        stem = os.path.splitext(os.path.basename(a))[0] or os.path.basename(a)
        parts.append(folders + [stem])
    same_file = len(parts) > 1 and \
        len({os.path.basename(os.path.abspath(os.fspath(p))) for p in paths}) == 1
    if same_file:
        parts = [c[:-1] or c for c in parts]

    def clean(label: str) -> str:
        return label.lstrip(".") or "_"

    for k in range(1, max(len(c) for c in parts) + 1):
        labels = [clean("_".join(c[-k:])) for c in parts]
        keys = [label.casefold() for label in labels]
        if len(set(keys)) == len(keys) and not set(keys) & set(RESERVED_LABELS):
            return labels
    # distinct paths that still join to the same label ("a_b/c" and "a/b_c"): number them
    return [f"{i}_{clean(c[-1])}" for i, c in enumerate(parts)]


def _common_saved(paths, args) -> dict:
    """The training grid and range the `specbias train` runs of ``paths`` share, for the flags
    not given; a ValueError naming two runs that differ."""
    saved = [read_grid(p) for p in paths]
    common = {}
    for key, flag, given in (("grid_shape", "--grid", args.grid),
                             ("coord_range", "--range", args.coord_range)):
        if given:
            continue
        values = [s.get(key) for s in saved]
        for p, v in zip(paths, values):
            if v != values[0]:
                show = (lambda x: "none saved" if x is None else
                        ("x".join(map(str, x)) if key == "grid_shape" else
                         ",".join(map(str, x))))
                raise ValueError(f"{flag}: the checkpoints were trained on different "
                                 f"{'grids' if key == 'grid_shape' else 'ranges'} "
                                 f"({paths[0]}: {show(values[0])}, {p}: {show(v)}); pass "
                                 f"{flag}")
        if values[0] is not None:
            common[key] = values[0]
    return common


def _ensemble_command(args, rank: int, device) -> None:
    """Several checkpoints: an ensemble, the checkpoints shared out over the ranks."""
    from ..analysis import MemberFailed, analyze_ensemble, ensemble_statistics

    paths = list(args.checkpoints)
    seen = {}
    for p in paths:
        if not os.path.isfile(p):
            raise ValueError(f"checkpoint {p!r} does not exist or is not a file (one of the "
                             f"{len(paths)} checkpoints given); nothing was analysed")
        key = os.path.realpath(p)
        if key in seen:
            raise ValueError(f"checkpoint {p!r} is given twice (also as {seen[key]!r}); list "
                             "each member of the ensemble once")
        seen[key] = p
    if not args.out:
        raise ValueError("--out: with several checkpoints every result and the ensemble's "
                         "statistics go into one folder; give it with --out DIR")
    user = bool(args.model or args.whole_module)
    enc = _user_encoding(args) if user else None
    saved = {} if user else _common_saved(paths, args)
    if not args.grid and "grid_shape" not in saved:
        raise ValueError("--grid: the checkpoints have no grid.json beside them (the training "
                         "grid of `specbias train` runs); pass --grid N, HxW or DxHxW")
    grid, shape = _grid(args, None, saved)
    grid_dims = int(grid.origin.numel()) if args.slice else len(shape)
    out = args.out
    check_writable_folder(out, "--out")
    os.makedirs(out, exist_ok=True)
    if args.ids == "memory":
        raise ValueError("--ids memory: with several checkpoints the ids are not kept in memory "
                         "(no region maps are drawn); use --ids file (a <name>_ids.npy per "
                         "checkpoint) or --ids none")
    ids_mode = "file" if args.ids == "file" else "none"
    if ids_mode == "file":
        need, free = 8 * grid.num_points * len(paths), shutil.disk_usage(out).free
        if need > free:
            raise ValueError(f"--ids file: {len(paths)} ids files need about "
                             f"{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free in "
                             f"{out!r}; use --ids none or a smaller --grid")
    tag = _grid_tag(args, shape)
    names = [f"{label}_regions_{tag}" for label in member_labels(paths)]
    ensemble_name = f"ensemble_regions_{tag}"
    where = "--slice" if args.slice else f"--grid {tag}"

    def loader(path):
        def load():
            target, _, dims, _, module = _resolve(args, path, enc)
            if dims != grid_dims:
                raise ValueError(f"{path}: the model takes {dims}D coordinates, {where} gives "
                                 f"{grid_dims}D points")
            if hasattr(module, "to"):
                module.to(device)
            return target
        return load

    try:
        summaries = analyze_ensemble([loader(p) for p in paths], grid, out=out, names=names,
                                     sources=paths, encoding=enc, tile=args.tile, ids=ids_mode,
                                     device=device, ensemble_name=ensemble_name,
                                     **grad_options(args))
    except MemberFailed as err:   # another rank's error: a user error if it was one there
        if err.user_error:
            raise ValueError(str(err)) from None
        raise
    if rank != 0:
        return
    regions = ensemble_statistics(summaries)["regions"]
    span = (f" (95% interval {regions['low']:.1f} to {regions['high']:.1f})"
            if regions["low"] is not None else "")
    counts = [s["regions"] for s in summaries]
    print(f"{len(paths)} checkpoints on a {tag} grid: {regions['mean']:.1f} regions on average"
          f"{span}, {min(counts)} to {max(counts)}; numbers: "
          f"{os.path.join(out, ensemble_name + '.json')} and one <name>.json per checkpoint")


def grad_options(args) -> dict:
    """The analysis' gradient arguments for --grads."""
    if args.grads == "none":
        return {}
    return {"grad_out": "output", "region_grads": True}


def analyze_command(args) -> None:
    from ..analysis import analyze_grid, launch
    from ..analysis.outputs import output_arrays

    distributed = launch(args.timeout)
    rank = torch.distributed.get_rank() if distributed else 0
    device = check_device(args.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    checkpoints = getattr(args, "checkpoints", None) or [args.checkpoint]
    if len(checkpoints) > 1:
        return _ensemble_command(args, rank, device)
    args.checkpoint = checkpoints[0]
    target, enc, dims, saved, module = _resolve(args)
    grid, shape = _grid(args, dims, saved)
    out = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    check_writable_folder(out, "--out")
    os.makedirs(out, exist_ok=True)
    ids_mode = choose_ids(args.ids, grid.num_points, out)
    tag = _grid_tag(args, shape)
    name = f"regions_{tag}"
    if hasattr(module, "to"):
        module.to(device)
    result = analyze_grid(target, grid, encoding=enc, tile=args.tile, ids=ids_mode,
                          out=out if ids_mode == "file" else None, name=name, device=device,
                          boundary=args.boundary, **grad_options(args))
    if rank != 0:
        return
    summary = result.summary()
    stats = {"grid_shape": list(shape), **summary,
             "always_on": summary["always_on_neurons"], "ids": ids_mode}
    arrays = output_arrays(result)
    if result.ids is not None:
        arrays["ids"] = result.ids.reshape(shape)
    atomic_save_npz(os.path.join(out, f"{name}.npz"), **arrays)
    atomic_write_json(os.path.join(out, f"{name}.json"), with_provenance(stats, device))
    figs, maps_line = _draw(args, result, stats, {k: _numpy(v) for k, v in arrays.items()},
                            grid, shape, target, enc, module, saved, device, out, name)
    count = count_text(result.num_regions, result.num_points)
    print(f"{count} on a {tag} grid ({summary['dead_neurons']} dead, "
          f"{summary['always_on_neurons']} always-on neurons); numbers: "
          f"{os.path.join(out, name + '.json')}")
    if figs:
        pngs = [os.path.basename(p) for p in figs if p.endswith(".png")]
        print(f"maps in {out}: {', '.join(pngs)} (and PDF); {maps_line}")
