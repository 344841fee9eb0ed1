"""regions-2d: number of linear regions on the image grid over training, and region maps."""
from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from .. import measure
from ..exact.partition2d import exact_region_count_2d, regioncam_available
from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from .common import patterns_at
from .gridcounts import grid_count
from .variants import VARIANTS

SOURCE = "paper: linear regions of 2D networks over training (region-count figure)"


def first_last_counts(ctx, tset, variants, seeds) -> dict:
    """{label: {"initial": [GridCount per seed], "final": [...]}} on the analysis grid."""
    f, sat = ctx.preset.analysis_factor, ctx.preset.saturation
    return {v.label: {"initial": [grid_count(tset, v, s, 0, f, sat, ctx.device) for s in seeds],
                      "final": [grid_count(tset, v, s, -1, f, sat, ctx.device) for s in seeds]}
            for v in variants}


def exact_raw_counts(tset, variants, seeds) -> dict:
    """Exact final region counts of the raw variants when the optional regioncam is installed."""
    if not regioncam_available():
        return {}
    out = {}
    for v in variants:
        if v.encoding == "raw":
            lo, hi = v.coord_range
            out[v.label] = [exact_region_count_2d(tset.network(v, s, -1).to("cpu"), lo, hi)
                            for s in seeds]
    return out


def region_counts(ctx, tset, variants, seeds, desc) -> dict:
    """{label: int array [seeds, records]} of distinct patterns on the grid."""
    records = len(tset.task.record_epochs)
    bar = tqdm(total=len(variants) * len(seeds) * records, disable=ctx.quiet, leave=False,
               desc=desc)
    out = {}
    for v in variants:
        rows = []
        for s in seeds:
            row = []
            for k in range(records):
                p, _ = patterns_at(tset, v, s, k, ctx.device)
                row.append(measure.region_count(p))
                bar.update(1)
            rows.append(row)
        out[v.label] = np.asarray(rows, dtype=np.int64)
    bar.close()
    return out


def regions_2d(ctx: Context) -> ExperimentResult:
    name = "regions-2d"
    task = ctx.preset.task2d
    variants, seeds = VARIANTS[name], ctx.seeds2d
    tset, train_s = ctx.cache.get(task, variants, seeds)
    start = time.perf_counter()
    counts = region_counts(ctx, tset, variants, seeds, name)
    epochs = task.record_epochs
    fig, axes = plots.new_figure()
    for label, c in counts.items():
        plots.band(axes[0][0], epochs, c, label)
    plots.finish(axes[0][0], "epoch", "number of linear regions on the grid",
                 f"regions on {task.size}x{task.size} {task.image}", logy=True)
    figs = [plots.save(fig, ctx.figures(name), "region_count_vs_epoch")[0]]

    fig, axes = plots.new_figure(ncols=len(variants), width=2.6, height=2.8)
    arrays = {f"{key(l)}__region_count": c for l, c in counts.items()}
    for ax, v in zip(axes[0], variants):
        p, _ = patterns_at(tset, v, seeds[0], -1, ctx.device)
        stats = measure.region_stats(p)
        ids = stats.ids.reshape(task.grid_shape).cpu().numpy()
        arrays[f"{key(v.label)}__region_ids_seed{seeds[0]}"] = ids.astype(np.int32)
        plots.region_map_2d(ax, ids, title=f"{v.label}\n{stats.count} regions")
    figs.append(plots.save(fig, ctx.figures(name), "region_maps")[0])

    gc = first_last_counts(ctx, tset, variants, seeds)
    final = {l: g["final"] for l, g in gc.items()}
    st_levels = "more levels -> more regions"
    st_raw = "raw [0,1) has the fewest regions, rising during training"
    fine = f"on the {ctx.preset.analysis_factor}x finer analysis grid"
    claims = [
        C.counts_ordered(name, "levels-more-regions", st_levels,
                         [(f"final regions {l}", final[l]) for l in ("PE L=1", "PE L=2", "PE L=8")],
                         note=fine, source=SOURCE),
    ] + [C.counts_greater(name, f"raw01-fewest-vs-{key(l)}", st_raw, f"final regions {l}",
                          final[l], "final regions raw [0,1)", final["raw [0,1)"], note=fine,
                          source=SOURCE)
         for l in final if l != "raw [0,1)"] + [
        C.counts_greater(name, "raw01-rising", st_raw, "final regions raw [0,1)",
                         final["raw [0,1)"], "initial regions raw [0,1)",
                         gc["raw [0,1)"]["initial"], note=fine, source=SOURCE),
    ]
    exact = exact_raw_counts(tset, variants, seeds)
    measure_s = time.perf_counter() - start
    summ = ", ".join(f"{l}: {' '.join(g.display() for g in final[l])}" for l in final) + \
        f" final regions on {final['raw [0,1)'][0].points} analysis points"
    return ExperimentResult(
        name, "Linear regions on the image grid over training (2D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": seeds,
         "analysis_factor": ctx.preset.analysis_factor, "saturation": ctx.preset.saturation},
        {"epochs": epochs, "region_count_training_grid": {l: c.tolist() for l, c in counts.items()},
         "grid_counts": {l: {w: [x.to_json() for x in g[w]] for w in g} for l, g in gc.items()},
         "exact_final_raw": exact},
        arrays, figs, claims, {"train_s": train_s, "measure_s": measure_s}, summ)
