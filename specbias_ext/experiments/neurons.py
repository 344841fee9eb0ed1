"""dead-neurons (raw inputs on wider ranges) and narrowness (boundary distance vs PE levels)."""
from __future__ import annotations

import time

import numpy as np

import torch

from .. import measure
from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from .common import grid_name, inputs, patterns_at
from .variants import PE_LEVELS as LEVELS
from .variants import VARIANTS, pe


def dead_neurons(ctx: Context) -> ExperimentResult:
    name = "dead-neurons"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    records = len(task.record_epochs)
    dead, on = {}, {}
    for v in variants:
        d_rows, o_rows = [], []
        for s in ctx.seeds:
            d_row, o_row = [], []
            for k in range(records):
                p, net = patterns_at(tset, v, s, k, ctx.device)
                activity = measure.neuron_activity(p, net)
                d_row.append(activity.dead)
                o_row.append(activity.always_on)
            d_rows.append(d_row)
            o_rows.append(o_row)
        dead[v.label], on[v.label] = np.asarray(d_rows), np.asarray(o_rows)
    epochs = task.record_epochs
    fig, axes = plots.new_figure(ncols=2)
    for label in dead:
        plots.band(axes[0][0], epochs, dead[label], label)
        plots.band(axes[0][1], epochs, on[label], label)
    plots.finish(axes[0][0], "epoch", "dead neurons", "dead on the grid (z <= 0 everywhere)")
    plots.finish(axes[0][1], "epoch", "always-on neurons", "always on (z > 0 everywhere)")
    fig_path = plots.save(fig, ctx.figures(name), "dead_neurons_vs_epoch")[0]
    caption = (f"Dead neurons (pre-activation <= 0 at every point, left) and always-on neurons "
               f"(> 0 at every point, right) of the {task.depth}x{task.width} MLP over "
               f"training, counted on the {grid_name(task.grid_shape)} training grid, for raw "
               f"coordinates on ranges of growing width (mean over {len(ctx.seeds)} seed(s), "
               "band: min to max).")
    st = "a wider input range leaves fewer dead neurons"
    src = "paper: dead neurons for raw inputs on wider ranges"
    st_up = ("dead neurons increase during training (paper's stored counts, 4x512 on 512^2, "
             "first vs last checkpoint: 632->1075, 329->867, 189->772, 151->742 of 2048)")
    claims = [C.ordered(name, "wider-fewer-dead", st,
                        [(f"final dead neurons {l}", dead[l][:, -1]) for l in dead], "decreasing",
                        strict=False, source=src),
              C.greater(name, "widest-vs-narrowest", st, "final dead neurons raw [0,1)",
                        dead["raw [0,1)"][:, -1], "final dead neurons raw [-3,3)",
                        dead["raw [-3,3)"][:, -1], source=src)]
    claims += [C.greater(name, f"dead-increase-{key(l)}", st_up, f"final dead neurons {l}",
                         dead[l][:, -1], f"initial dead neurons {l}", dead[l][:, 0],
                         source=src) for l in dead]
    summ = ", ".join(f"{l}: {dead[l][:, -1].mean():.1f} dead" for l in dead) + \
        f" of {task.depth * task.width}"
    return ExperimentResult(
        name, "Dead and always-on neurons for raw inputs on wider ranges (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": ctx.seeds},
        {"epochs": epochs, "dead": {l: d.tolist() for l, d in dead.items()},
         "always_on": {l: o.tolist() for l, o in on.items()}},
        {**{f"{key(l)}__dead": d for l, d in dead.items()},
         **{f"{key(l)}__always_on": o for l, o in on.items()}},
        [fig_path], claims, {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ,
        captions={fig_path: caption})


def narrowness(ctx: Context) -> ExperimentResult:
    name = "narrowness"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    medians, regions, dists = {}, {}, {}
    for v in variants:
        enc = task.encoding(v).to(ctx.device)
        coords = task.coords(v).to(ctx.device)
        med, reg = [], []
        for s in ctx.seeds:
            net = tset.network(v, s, -1).to(ctx.device)
            d = measure.boundary_distance(coords, enc, net.to(torch.float64))
            med.append(float(d.median()))
            if s == ctx.seeds[0]:
                dists[v.label] = d.cpu().numpy()
            reg.append(measure.region_count(measure.patterns(inputs(tset, v, ctx.device), net)))
        medians[v.label], regions[v.label] = np.asarray(med), np.asarray(reg)
    fig, axes = plots.new_figure(ncols=2)
    ax = axes[0][0]
    m = np.stack([medians[v.label] for v in variants], 1)
    ax.errorbar(LEVELS, m.mean(0), yerr=m.std(0), marker="o", color="C0", capsize=3)
    plots.finish(ax, "PE levels L", "median boundary distance (coordinate units)",
                 "distance to the nearest region boundary", legend=False, logy=True)
    ax = axes[0][1]
    for v in variants:
        d = dists[v.label]
        d = d[np.isfinite(d) & (d > 0)]
        if d.size:
            hist, edges = np.histogram(np.log10(d), bins=ctx.preset.bins, density=True)
            ax.plot(0.5 * (edges[1:] + edges[:-1]), hist, label=v.label, color=plots.colour(v.label))
    plots.finish(ax, "log10 boundary distance", "density", f"seed {ctx.seeds[0]}, last epoch")
    fig_path = plots.save(fig, ctx.figures(name), "boundary_distance_vs_levels")[0]
    caption = (f"First-order distance from each point of the {grid_name(task.grid_shape)} "
               "training grid to the nearest region boundary (min over hidden neurons of "
               "|z| / |dz/dx|, in coordinate units) at the last epoch: left, its median against "
               f"the PE levels L (mean and sd over {len(ctx.seeds)} seed(s), log scale); right, "
               f"its distribution for seed {ctx.seeds[0]}.")
    st = "regions get narrower as L grows"
    claims = [C.ordered(name, "narrower-with-L", st,
                        [(f"median boundary distance {v.label}", medians[v.label])
                         for v in variants], "decreasing",
                        source="paper: narrowness of regions vs PE levels")]
    summ = ", ".join(f"L={L}: {medians[pe(L).label].mean():.2e}" for L in LEVELS) + \
        " median boundary distance"
    return ExperimentResult(
        name, "Width of linear regions (first-order boundary distance) vs PE levels (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": ctx.seeds,
         "distance": "min over hidden neurons of |z| / |dz/dt|, forward mode, float64"},
        {"levels": LEVELS, "median_boundary_distance": {l: m.tolist() for l, m in medians.items()},
         "region_count": {l: r.tolist() for l, r in regions.items()}},
        {**{f"{key(l)}__boundary_distance_seed{ctx.seeds[0]}": d for l, d in dists.items()},
         **{f"{key(l)}__median": m for l, m in medians.items()}},
        [fig_path], claims, {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ,
        captions={fig_path: caption})
