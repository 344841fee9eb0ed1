"""`specbias analyze` with several checkpoints: an ensemble, each member analysed alone on the
grid (shared out over the processes of torchrun), and the statistics across them."""
from __future__ import annotations

import os

from ..analysis import MemberFailed, analyze_ensemble, ensemble_statistics
from ..analysis.ensemble import layer_complexity_quantities
from ..runs.checkpoints import read_grid
from ..runs.output_checks import ID_BYTES, check_writable_folder, free_disk_bytes, gib
from .analyze_models import build_grid, resolve, user_encoding
from .analyze_outputs import claim_outputs, grid_tag, member_labels, output_files
from .analyze_request import AnalyzeRequest


def common_saved(paths, request: AnalyzeRequest) -> dict:
    """The training grid and range the `specbias train` runs of ``paths`` share, for the flags
    not given; a ValueError naming two runs that differ."""
    saved = [read_grid(p) for p in paths]
    common = {}
    for key, flag, given in (("grid_shape", "--grid", request.grid),
                             ("coord_range", "--range", request.coord_range)):
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


def _check_members(paths) -> None:
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


def ensemble_command(request: AnalyzeRequest, rank: int, device) -> None:
    """Several checkpoints: an ensemble, the checkpoints shared out over the ranks."""
    paths = list(request.checkpoints)
    _check_members(paths)
    if not request.out:
        raise ValueError("--out: with several checkpoints every result and the ensemble's "
                         "statistics go into one folder; give it with --out DIR")
    enc = user_encoding(request) if request.user_model else None
    saved = {} if request.user_model else common_saved(paths, request)
    if not request.grid and "grid_shape" not in saved:
        raise ValueError("--grid: the checkpoints have no grid.json beside them (the training "
                         "grid of `specbias train` runs); pass --grid N, HxW or DxHxW")
    grid, shape = build_grid(request, None, saved)
    grid_dims = int(grid.origin.numel()) if request.plane is not None else len(shape)
    out = request.out
    check_writable_folder(out, "--out")
    if request.ids == "memory":
        raise ValueError("--ids memory: with several checkpoints the ids are not kept in memory "
                         "(no region maps are drawn); use --ids file (a <name>_ids.npy per "
                         "checkpoint) or --ids none")
    ids_mode = "file" if request.ids == "file" else "none"
    if ids_mode == "file":
        need = ID_BYTES * grid.num_points * len(paths)
        free = free_disk_bytes(out)
        if need > free:
            raise ValueError(f"--ids file: {len(paths)} ids files need about {gib(need)}, "
                             f"{gib(free)} free for {out!r}; use --ids none or a smaller "
                             "--grid")
    tag = grid_tag(request, shape, saved)
    names = [f"{label}_regions_{tag}" for label in member_labels(paths)]
    ensemble_name = f"ensemble_regions_{tag}"
    files = [f for n in names for f in output_files(n, ids_mode)] + [f"{ensemble_name}.json"]
    own = claim_outputs(request, out, files, dict(zip(names, paths)))
    if rank == 0:
        own.record(*files)
    where = "--slice" if request.plane is not None else f"--grid {tag}"

    def loader(path):
        def load():
            resolved = resolve(request, path, enc)
            if resolved.dims != grid_dims:
                raise ValueError(f"{path}: the model takes {resolved.dims}D coordinates, "
                                 f"{where} gives {grid_dims}D points")
            resolved.to(device)
            if request.user_model:     # each member's own encoding (split off, or its state)
                return resolved.target, resolved.encoding
            return resolved.target
        return load

    grad_options = {"grad_out": "output", "region_grads": True} if request.grads else {}
    try:
        summaries = analyze_ensemble([loader(p) for p in paths], grid, out=out, names=names,
                                     sources=paths, tile=request.tile,
                                     ids=ids_mode, device=device, ensemble_name=ensemble_name,
                                     boundary=request.boundary,
                                     lc_radius=request.lc_radius(grid), **grad_options)
    except MemberFailed as err:   # another rank's error: a user error if it was one there
        if err.user_error:
            raise ValueError(str(err)) from None
        raise
    if rank != 0:
        return
    stats = ensemble_statistics(summaries)
    print(regions_line(stats, summaries, shape, os.path.join(out, ensemble_name + ".json")))
    if "local_complexity_mean" in stats:
        print(local_complexity_line(stats, summaries))


def _interval_text(entry: dict, digits: str) -> str:
    """`` (95% interval LOW to HIGH)`` of a quantity of ``ensemble_statistics``; empty when it
    has none (one member)."""
    if entry["low"] is None:
        return ""
    return (f" ({entry['level']:.0%} interval {entry['low']:{digits}} to "
            f"{entry['high']:{digits}})")


def regions_line(stats: dict, summaries, shape, ensemble_file: str) -> str:
    """What an ensemble's analysis prints: the mean region count, its interval and range."""
    regions = stats["regions"]
    counts = [s["regions"] for s in summaries]
    return (f"{len(summaries)} checkpoints on a {'x'.join(map(str, shape))} grid: "
            f"{regions['mean']:.1f} regions on average{_interval_text(regions, '.1f')}, "
            f"{min(counts)} to {max(counts)}; numbers: {ensemble_file} and one <name>.json per "
            "checkpoint")


def local_complexity_line(stats: dict, summaries) -> str:
    """With --lc, the mean local complexity across the checkpoints (the format of one
    checkpoint's line): its mean and interval, the mean median, each layer's mean."""
    settings = summaries[0]["local_complexity"]   # every member's radius and method are these
    mean, median = stats["local_complexity_mean"], stats["local_complexity_median"]
    layers = [stats[key]["mean"] for key in layer_complexity_quantities(summaries)]
    return (f"local complexity ({settings['method']}, r = {settings['radius']:.4g}): mean "
            f"{mean['mean']:.3g}{_interval_text(mean, '.3g')}, median {median['mean']:.3g} "
            f"neurons per point on average over {len(summaries)} checkpoints; layer means "
            + ", ".join(f"{m:.3g}" for m in layers))
