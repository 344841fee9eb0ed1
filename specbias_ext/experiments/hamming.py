"""hamming-1d, hamming-2d, hamming-layers: Hamming distance between the activation patterns of
local (nearby) and global (far apart) coordinate pairs over training."""
from __future__ import annotations

import time

import numpy as np

from .. import measure
from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from ..plots.fits import draw_fit_1d
from .common import (curve_arrays, curve_series, grid_name, hamming_curves, hamming_figure,
                     pairs_1d, pairs_2d, pairs_text, patterns_at)
from .gridcounts import certified_count_1d
from .variants import VARIANTS


def _region_maps_1d(ctx, name, tset, variants, seed):
    """The fit of each variant at the last epoch with its region boundaries; (path, caption)."""
    fig, axes = plots.new_figure(nrows=len(variants), width=9, height=1.9)
    n = tset.task.n
    for ax, v in zip(axes[:, 0], variants):
        p, _ = patterns_at(tset, v, seed, -1, ctx.device)
        ids = measure.region_stats(p).ids.cpu().numpy()
        grid = {"shape": [n], "coord_range": list(v.coord_range)}
        t = v.coord_range[0] + (v.coord_range[1] - v.coord_range[0]) * np.arange(n) / n
        draw_fit_1d(ax, t, tset.fit(v, seed, -1)[:, 0].numpy(), tset.target[:, 0].numpy(),
                    ids, label=v.label, grid=grid, colour=plots.colour(v.label))
    path = plots.save(fig, ctx.figures(name), "fits_with_regions")[0]
    return path, (f"The fit of each encoding at the last epoch (seed {seed}) over the target, "
                  f"with a grey line at every region boundary found on the {n}-point training "
                  "grid (a boundary between two neighbouring grid points whose activation "
                  "patterns differ; the title counts the distinct patterns).")


def hamming_1d(ctx: Context) -> ExperimentResult:
    name = "hamming-1d"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    pairs = pairs_1d(ctx.preset, task.n)
    curves = hamming_curves(ctx, tset, variants, ctx.seeds, pairs, "hamming-1d")
    final = {label: {kind: c[kind][:, -1] for kind in c} for label, c in curves.items()}
    fig, cap = hamming_figure(ctx, name, task.record_epochs, curves, "1D", task.grid_shape,
                              ctx.preset.pairs, ctx.seeds)
    fig_maps, cap_maps = _region_maps_1d(ctx, name, tset, variants, ctx.seeds[0])
    t_cert = time.perf_counter()
    cert_seeds = ctx.seeds[:ctx.preset.certified_seeds]
    certified = {v.label: [certified_count_1d(tset, v, s) for s in cert_seeds] for v in variants}
    cert_s = time.perf_counter() - t_cert
    st = "local Hamming ~0-2 for raw inputs, ~15 for L=4, ~55-65 for L=7; global ~60 for " \
         "[0,1), 120-160 otherwise"
    claims = [
        C.in_range(name, "local-raw01", st, "final local Hamming raw [0,1)",
                   final["raw [0,1)"]["local"], 0, 2.5),
        C.in_range(name, "local-raw11", st, "final local Hamming raw [-1,1)",
                   final["raw [-1,1)"]["local"], 0, 2.5),
        C.in_range(name, "local-pe4", st, "final local Hamming PE L=4",
                   final["PE L=4"]["local"], 10, 20),
        C.in_range(name, "local-pe7", st, "final local Hamming PE L=7",
                   final["PE L=7"]["local"], 50, 70),
        C.in_range(name, "global-raw01", st, "final global Hamming raw [0,1)",
                   final["raw [0,1)"]["global"], 45, 75),
    ] + [C.in_range(name, f"global-{key(l)}", st, f"final global Hamming {l}",
                    final[l]["global"], 110, 170) for l in ("raw [-1,1)", "PE L=4", "PE L=7")]
    measure_s = time.perf_counter() - start
    summ = ", ".join(f"{l}: local {final[l]['local'].mean():.1f} global "
                     f"{final[l]['global'].mean():.1f}, certified regions "
                     f"{' '.join(str(c['count']) + ('' if c['exact'] else ' (lower bound)') for c in certified[l])}"
                     for l in final)
    series = curve_series(curves, task.record_epochs)
    series["certified_final_regions"] = {"seeds": cert_seeds, **certified}
    return ExperimentResult(
        name, "Hamming distance of local and global pairs over training (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants],
         "seeds": ctx.seeds, "pairs": ctx.preset.pairs.describe(1),
         "regions": "curves: distinct patterns on the training grid (a lower bound); "
                    "certified_final_regions: every breakpoint on the segment (certified1d)"},
        series, curve_arrays(curves), [fig, fig_maps], claims,
        {"train_s": train_s, "measure_s": measure_s, "certified_s": cert_s}, summ,
        captions={fig: cap, fig_maps: cap_maps})


def hamming_2d(ctx: Context) -> ExperimentResult:
    name = "hamming-2d"
    task = ctx.preset.task2d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds2d)
    start = time.perf_counter()
    pairs = pairs_2d(ctx.preset, task.grid_shape)
    curves = hamming_curves(ctx, tset, variants, ctx.seeds2d, pairs, "hamming-2d")
    final = {label: {kind: c[kind][:, -1] for kind in c} for label, c in curves.items()}
    fig, cap = hamming_figure(ctx, name, task.record_epochs, curves,
                              f"{task.image} {grid_name(task.grid_shape)}", task.grid_shape,
                              ctx.preset.pairs, ctx.seeds2d)
    st = "as in 1D: PE raises local Hamming"
    claims = [C.greater(name, f"local-{key(p)}-gt-{key(r)}", st,
                        f"final local Hamming {p}", final[p]["local"],
                        f"final local Hamming {r}", final[r]["local"])
              for p in ("PE L=1", "PE L=2", "PE L=8") for r in ("raw [0,1)", "raw [-1,1)")]
    measure_s = time.perf_counter() - start
    summ = ", ".join(f"{l}: local {final[l]['local'].mean():.1f} global "
                     f"{final[l]['global'].mean():.1f}" for l in final)
    return ExperimentResult(
        name, "Hamming distance of local (patch) and global (corner) pairs over training (2D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants],
         "seeds": ctx.seeds2d, "pairs": ctx.preset.pairs.describe(2)},
        curve_series(curves, task.record_epochs), curve_arrays(curves), [fig], claims,
        {"train_s": train_s, "measure_s": measure_s}, summ, captions={fig: cap})


def hamming_layers(ctx: Context) -> ExperimentResult:
    name = "hamming-layers"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    pairs = {"local": pairs_1d(ctx.preset, task.n)["local"]}
    curves = hamming_curves(ctx, tset, variants, ctx.seeds, pairs, "hamming-layers",
                            per_layer=True)
    epochs = task.record_epochs
    depth = task.depth
    fig, axes = plots.new_figure(ncols=len(variants))
    for ax, v in zip(axes[0], variants):
        c = curves[v.label]["local"]                                # [seeds, records, layers]
        for l in range(depth):
            plots.band(ax, epochs, c[:, :, l], f"layer {l + 1}", color=plots.layer_colour(l))
        plots.finish(ax, "epoch", "mean local Hamming distance", f"{v.label}: per layer")
    path = plots.save(fig, ctx.figures(name), "hamming_per_layer")[0]
    caption = (f"Mean Hamming distance of local pairs ({pairs_text(ctx.preset.pairs, 1)}) "
               f"counted in each hidden layer separately, over training, on the "
               f"{grid_name(task.grid_shape)} training grid: one panel per encoding, one line "
               f"per layer (mean over {len(ctx.seeds)} seed(s), band: min to max).")
    final = {v.label: curves[v.label]["local"][:, -1, :] for v in variants}   # [seeds, layers]
    raw, pe8 = final["raw [0,1)"], final["PE L=8"]
    claims = [
        C.greater(name, "pe-layer1-gt-raw-layer1",
                  "PE separates neighbours already in layer 1; raw only in deeper layers",
                  "final layer-1 local Hamming PE L=8", pe8[:, 0],
                  "final layer-1 local Hamming raw [0,1)", raw[:, 0]),
        C.less(name, "raw-layer1-lt-deeper",
               "PE separates neighbours already in layer 1; raw only in deeper layers",
               "final layer-1 local Hamming raw [0,1)", raw[:, 0],
               "final mean local Hamming of layers 2..L raw [0,1)", raw[:, 1:].mean(1)),
        C.above(name, "pe-layer1-separates",
                "PE separates neighbours already in layer 1",
                "final layer-1 local Hamming PE L=8", pe8[:, 0], 1.0),
    ]
    measure_s = time.perf_counter() - start
    summ = "; ".join(f"{l}: " + " ".join(f"{x:.1f}" for x in final[l].mean(0)) for l in final)
    return ExperimentResult(
        name, "Per-layer Hamming distance of local pairs (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants],
         "seeds": ctx.seeds, "pairs": {"local": ctx.preset.pairs.describe(1)["local"]}},
        {"epochs": epochs, "layers": list(range(1, depth + 1)),
         "curves": {l: curves[l]["local"].tolist() for l in curves}},
        {f"{key(l)}__local_per_layer": curves[l]["local"] for l in curves}, [path], claims,
        {"train_s": train_s, "measure_s": measure_s}, "final per-layer local Hamming " + summ,
        captions={path: caption})
