"""noise-2d, the paper's main-text experiment: a uniform-noise image (64x64 in the paper)
fitted by a 2x128 MLP on raw [0,1) coordinates and on PE L=5; Hamming distance of local (all pairs in 3x3 patches)
and global (opposite-quadrant) pairs and region counts over training, confusion at the end."""
from __future__ import annotations

import time

import numpy as np

from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from .confusion import NEAR_ONE, confusion_caption, final_confusions
from .common import (curve_arrays, curve_series, grid_name, hamming_curves, hamming_figure,
                     pairs_text)
from .gridcounts import grid_count
from .variants import VARIANTS

SOURCE = "paper, main text: noise-image experiment (Hamming, confusion and region figures)"


def noise_2d(ctx: Context) -> ExperimentResult:
    name = "noise-2d"
    task, sampling = ctx.preset.noise, ctx.preset.noise_pairs
    variants = VARIANTS[name]
    seeds = list(range(ctx.preset.noise_seeds)) if ctx.seeds == list(range(ctx.preset.seeds)) \
        else ctx.seeds
    raw, pe = (v.label for v in variants)
    tset, train_s = ctx.cache.get(task, variants, seeds)
    start = time.perf_counter()
    pairs = sampling.sample(task.grid_shape, 0)
    curves = hamming_curves(ctx, tset, variants, seeds, pairs, name)
    final = {label: {kind: c[kind][:, -1] for kind in c} for label, c in curves.items()}
    grid = grid_name(task.grid_shape)
    curve_fig, curve_cap = hamming_figure(ctx, name, task.record_epochs, curves,
                                          f"noise {grid}", task.grid_shape, sampling, seeds)
    figs = [curve_fig]
    conf = final_confusions(ctx, tset, variants, seeds, pairs)
    near = {l: (np.abs(c["local"]) > NEAR_ONE).mean(1) for l, c in conf.items()}
    mean_abs = {l: np.abs(c["local"]).mean(1) for l, c in conf.items()}
    fig, axes = plots.new_figure(ncols=2)
    for col, kind in enumerate(("local", "global")):
        for label, c in conf.items():
            plots.density(axes[0][col], c[kind].reshape(-1), label, bins=ctx.preset.bins)
        plots.finish(axes[0][col], "gradient confusion c_ij", "density", f"{kind} pairs, last epoch")
    figs.append(plots.save(fig, ctx.figures(name), "confusion_density")[0])
    captions = {curve_fig: curve_cap, figs[1]: confusion_caption(grid, pairs_text(sampling, 2),
                                                                 len(seeds))}
    f, sat = ctx.preset.analysis_factor, ctx.preset.saturation
    side = task.grid_shape[0] * f
    counts = {v.label: [grid_count(tset, v, s, -1, f, sat, ctx.device) for s in seeds]
              for v in variants}
    claims = [
        C.greater(name, "pe-local-hamming-larger", "PE: much larger local Hamming distance",
                  f"final local Hamming {pe}", final[pe]["local"],
                  f"final local Hamming {raw}", final[raw]["local"], source=SOURCE),
        C.less(name, "raw-neighbours-share", "raw: neighbours share regions (local Hamming far "
               "below global)", f"final local Hamming {raw}", final[raw]["local"],
               f"final global Hamming {raw}", final[raw]["global"], source=SOURCE),
        C.above(name, "raw-confusion-piles", "raw: local confusion piles up at +-1",
                f"fraction of local pairs with |c| > {NEAR_ONE} for {raw}", near[raw], 0.5,
                source=SOURCE),
        C.less(name, "pe-confusion-away", "PE: local confusion away from +-1",
               f"mean local |c| {pe}", mean_abs[pe], f"mean local |c| {raw}", mean_abs[raw],
               source=SOURCE),
        C.counts_greater(name, "pe-more-regions", "PE: more linear regions",
                         f"final regions {pe}", counts[pe], f"final regions {raw}", counts[raw],
                         note=f"on the {f}x finer analysis grid", source=SOURCE),
    ]
    measure_s = time.perf_counter() - start
    summ = ", ".join(f"{l}: local {final[l]['local'].mean():.1f} global "
                     f"{final[l]['global'].mean():.1f}, |c| {mean_abs[l].mean():.2f}, regions "
                     f"{' '.join(g.display() for g in counts[l])}" for l in final) + \
        (f" (Hamming on the {grid} training grid; final regions on the {side}x{side} analysis "
         f"grid, {f}x finer per axis; '>=' marks a saturated count)")
    arrays = curve_arrays(curves)
    for l, cs in conf.items():
        for kind, c in cs.items():
            arrays[f"{key(l)}__{kind}_confusion"] = c.astype(np.float32)
    return ExperimentResult(
        name, f"The paper's main-text experiment: {grid} noise image, raw vs PE L=5",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": seeds,
         "pairs": sampling.describe(2), "analysis_factor": f, "saturation": sat},
        {**curve_series(curves, task.record_epochs),
         "final_region_counts": {l: [g.to_json() for g in c] for l, c in counts.items()},
         "confusion": {l: {"mean_abs_local": mean_abs[l].tolist(),
                           "frac_near_pm1_local": near[l].tolist()} for l in conf}},
        arrays, figs, claims, {"train_s": train_s, "measure_s": measure_s}, summ,
        captions=captions)
