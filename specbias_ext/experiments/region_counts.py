"""regions-2d: number of linear regions on the image grid over training, and region maps."""
from __future__ import annotations

import os
import time

import numpy as np
from tqdm import tqdm

from .. import measure
from ..exact.partition2d import exact_region_count_2d, regioncam_available
from . import claims as C
from ..plots import experiment_figures as plots
from ..plots.frame import count_text, grid_frame
from ..plots.maps import draw_region_map
from ..plots.run_figures import spread
from ..plots.training import RegionRecord, write_region_animation_panels
from .base import Context, ExperimentResult, key
from .common import grid_name, patterns_at, saturation_line
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


#: Records whose region maps are kept (evenly spread over training, first and last included).
MAP_RECORDS = 8


def _grid(task, variant) -> dict:
    return {"shape": list(task.grid_shape), "coord_range": list(variant.coord_range)}


def region_maps_over_training(ctx, tset, variants, seed, arrays) -> dict:
    """{label: [RegionRecord]} of model (variant, seed) at up to ``MAP_RECORDS`` records; the
    ids (int32) and pattern keys go into ``arrays`` as ``<label>__region_ids_e<epoch>``."""
    epochs = tset.task.record_epochs
    out = {}
    for v in variants:
        recs = []
        for k in spread(range(len(epochs)), MAP_RECORDS):
            p, _ = patterns_at(tset, v, seed, k, ctx.device)
            st = measure.region_stats(p)
            ids = st.ids.reshape(tset.task.grid_shape).cpu().numpy().astype(np.int32)
            keys = measure.region_keys(p, st.ids, st.count).cpu().numpy()
            recs.append(RegionRecord(epochs[k], ids, keys))
            arrays[f"{key(v.label)}__region_ids_e{epochs[k]:06d}"] = ids
            arrays[f"{key(v.label)}__region_keys_e{epochs[k]:06d}"] = keys
        out[v.label] = recs
    return out


def _final_maps(ctx, name, maps) -> str:
    """The last record's region map of every variant, side by side; the PNG path."""
    fig, axes = plots.new_figure(ncols=len(maps), width=2.6, height=3.0)
    task = ctx.preset.task2d
    variants = {v.label: v for v in VARIANTS[name]}
    for ax, (label, recs) in zip(axes[0], maps.items()):
        r = recs[-1]
        frame = grid_frame(_grid(task, variants[label]), r.ids.shape)
        draw_region_map(ax, r.ids, r.keys, frame,
                        f"{label}\n{count_text(r.count, frame.points, ctx.preset.saturation)}")
    return plots.save(fig, ctx.figures(name), "region_maps")[0]


def regions_2d(ctx: Context) -> ExperimentResult:
    name = "regions-2d"
    task = ctx.preset.task2d
    variants, seeds = VARIANTS[name], ctx.seeds2d
    tset, train_s = ctx.cache.get(task, variants, seeds)
    start = time.perf_counter()
    counts = region_counts(ctx, tset, variants, seeds, name)
    epochs = task.record_epochs
    grid, points = grid_name(task.grid_shape), int(np.prod(task.grid_shape))
    f = ctx.preset.analysis_factor
    side = task.grid_shape[0] * f
    fig, axes = plots.new_figure(width=5.8)
    for label, c in counts.items():
        plots.band(axes[0][0], epochs, c, label)
    saturation_line(axes[0][0], points, ctx.preset.saturation)
    plots.finish(axes[0][0], "epoch", f"distinct patterns on the {grid} grid",
                 f"regions on the {grid} training grid ({task.image})", logy=True,
                 legend=False)
    # beside the panel: inside, it would cover the curves' early drop
    axes[0][0].legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figs = [plots.save(fig, ctx.figures(name), "region_count_vs_epoch")[0]]
    captions = {figs[0]: (
        f"Number of distinct activation patterns on the {grid} training grid of the "
        f"{task.image} image over training (log scale; mean over {len(seeds)} seed(s), band: "
        f"min to max). A count above the dashed line, {ctx.preset.saturation:g} of the {points} "
        f"grid points, saturates the grid (a lower bound only); the claims and the summary use counts on the {side}x{side} "
        f"analysis grid ({f}x finer per axis, same box) instead.")}
    arrays = {f"{key(l)}__region_count": c for l, c in counts.items()}
    maps = region_maps_over_training(ctx, tset, variants, seeds[0], arrays)
    figs.append(_final_maps(ctx, name, maps))
    captions[figs[-1]] = (
        f"Region maps at the last epoch (seed {seeds[0]}) on the {grid} training grid, one "
        "panel per encoding, axes in each encoding's coordinate range: every region in the "
        "colour of its activation pattern (the same pattern has the same colour in every map "
        "and epoch), boundaries darkened where regions average 20 points or more. Titles "
        "count the distinct patterns on this grid ('>=': saturated, a lower bound).")
    gif = write_region_animation_panels(
        {v.label: (maps[v.label], _grid(task, v)) for v in variants},
        os.path.join(ctx.figures(name), "region_maps_over_training"), formats=("gif",),
        fps=2.0, dpi=80)[0]
    captions[gif] = (
        f"The region maps of the previous figure at {len(maps[variants[0].label])} epochs "
        f"from 0 to {epochs[-1]} (seed {seeds[0]}, {grid} training grid): a region keeps its "
        "colour for as long as its activation pattern exists, so regions can be followed "
        "as they split, merge and move.")

    gc = first_last_counts(ctx, tset, variants, seeds)
    final = {l: g["final"] for l, g in gc.items()}
    st_levels = "more levels -> more regions"
    st_raw = "raw [0,1) has the fewest regions, rising during training"
    fine = f"on the {side}x{side} analysis grid ({f}x finer per axis)"
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
        (f" final regions on the {side}x{side} analysis grid ({f}x finer per axis than the "
         f"{grid} training grid of the figures; '>=' marks a saturated count)")
    return ExperimentResult(
        name, "Linear regions on the image grid over training (2D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": seeds,
         "analysis_factor": ctx.preset.analysis_factor, "saturation": ctx.preset.saturation},
        {"epochs": epochs, "region_count_training_grid": {l: c.tolist() for l, c in counts.items()},
         "region_map_labels": {f"{key(v.label)}__": v.label for v in variants},
         "region_map_ranges": {f"{key(v.label)}__": list(v.coord_range) for v in variants},
         "grid_counts": {l: {w: [x.to_json() for x in g[w]] for w in g} for l, g in gc.items()},
         "exact_final_raw": exact},
        arrays, figs, claims, {"train_s": train_s, "measure_s": measure_s}, summ,
        captions=captions, animations=[gif])
