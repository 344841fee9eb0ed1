"""confusion-1d, confusion-2d: gradient confusion (cosine between per-example gradients of the MSE
loss) of local and global pairs at the last epoch."""
from __future__ import annotations

import time

import numpy as np

from .. import measure
from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from .common import grad_out_at, grid_name, inputs, pairs_1d, pairs_2d, pairs_text
from .variants import VARIANTS

NEAR_ONE = 0.9   # |c| above this counts as "at +-1"


def final_confusions(ctx: Context, tset, variants, seeds, pairs) -> dict:
    """{label: {kind: [seeds, P]}} of c_ij at the last record."""
    out = {}
    for v in variants:
        per_kind = {kind: [] for kind in pairs}
        x = inputs(tset, v, ctx.device)
        for s in seeds:
            net = tset.network(v, s, -1).to(ctx.device)
            g = grad_out_at(tset, v, s, -1, ctx.device)
            for kind, (i, j) in pairs.items():
                c = measure.confusion_pairs(x, net, g, i.to(ctx.device), j.to(ctx.device))
                per_kind[kind].append(c.double().cpu().numpy())
        out[v.label] = {kind: np.stack(c) for kind, c in per_kind.items()}
    return out


def confusion_caption(grid: str, pairs: str, seeds: int) -> str:
    return (f"Density of the gradient confusion c_ij (cosine between the per-example MSE "
            f"gradients of points i and j over all parameters) at the last epoch, for local and "
            f"global pairs of the {grid} training grid ({pairs}); all pairs of {seeds} seed(s) "
            "pooled. Mass at +-1: the two points' gradients are (anti)parallel, so a step that "
            "fits one moves the other alike.")


def _figure(ctx, name, conf, bins, dim):
    fig, axes = plots.new_figure(ncols=2)
    for col, kind in enumerate(("local", "global")):
        ax = axes[0][col]
        for label, c in conf.items():
            plots.density(ax, c[kind].reshape(-1), label, bins=bins)
        plots.finish(ax, "gradient confusion c_ij", "density", f"{dim}: {kind} pairs, last epoch")
    return plots.save(fig, ctx.figures(name), "confusion_density")[0]


def _stats(conf):
    return {label: {kind: {"mean_abs": np.abs(c).mean(1).tolist(),
                           "frac_near_pm1": (np.abs(c) > NEAR_ONE).mean(1).tolist()}
                    for kind, c in cs.items()} for label, cs in conf.items()}


def _run(ctx: Context, name, task, variants, seeds, pairs, raw_labels, pe_labels, dim):
    tset, train_s = ctx.cache.get(task, variants, seeds)
    start = time.perf_counter()
    conf = final_confusions(ctx, tset, variants, seeds, pairs)
    fig = _figure(ctx, name, conf, ctx.preset.bins, dim)
    caption = confusion_caption(grid_name(task.grid_shape),
                                pairs_text(ctx.preset.pairs, len(task.grid_shape)), len(seeds))
    st = {"piles": "raw inputs: local confusion piles up at +-1",
          "moves": "PE moves local confusion mass toward 0"}
    near = {l: (np.abs(c["local"]) > NEAR_ONE).mean(1) for l, c in conf.items()}
    mean_abs = {l: np.abs(c["local"]).mean(1) for l, c in conf.items()}
    claims = [C.above(name, f"raw-piles-{key(r)}", st["piles"],
                      f"fraction of local pairs with |c| > {NEAR_ONE} for {r}", near[r], 0.5)
              for r in raw_labels]
    claims += [C.less(name, f"pe-toward-0-{key(p)}-vs-{key(r)}", st["moves"],
                      f"mean local |c| {p}", mean_abs[p], f"mean local |c| {r}", mean_abs[r])
               for p in pe_labels for r in raw_labels]
    measure_s = time.perf_counter() - start
    summ = ", ".join(f"{l}: local |c| {mean_abs[l].mean():.2f}, |c|>{NEAR_ONE} "
                     f"{near[l].mean():.2f}" for l in conf)
    bins = ctx.preset.bins
    arrays = {}
    for l, cs in conf.items():
        for kind, c in cs.items():
            arrays[f"{key(l)}__{kind}_confusion"] = c.astype(np.float32)
            arrays[f"{key(l)}__{kind}_hist"] = np.histogram(c.reshape(-1), bins=bins,
                                                            range=(-1, 1), density=True)[0]
    return ExperimentResult(
        name, f"Gradient confusion of local and global pairs at the last epoch ({dim})",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": seeds,
         "grad_out": "MSE: 2 (f - y) / out_dim", "near_one_threshold": NEAR_ONE,
         "pairs": {k: [int(t[0].numel())] for k, t in pairs.items()}},
        {"stats": _stats(conf), "hist_edges": np.linspace(-1, 1, bins + 1).tolist()},
        arrays, [fig], claims, {"train_s": train_s, "measure_s": measure_s}, summ,
        captions={fig: caption})


def confusion_1d(ctx: Context) -> ExperimentResult:
    task = ctx.preset.task1d
    return _run(ctx, "confusion-1d", task, VARIANTS["confusion-1d"], ctx.seeds, pairs_1d(ctx.preset, task.n),
                ["raw [0,1)", "raw [-1,1)"], ["PE L=4", "PE L=7"], "1D")


def confusion_2d(ctx: Context) -> ExperimentResult:
    task = ctx.preset.task2d
    return _run(ctx, "confusion-2d", task, VARIANTS["confusion-2d"], ctx.seeds2d,
                pairs_2d(ctx.preset, task.grid_shape), ["raw [0,1)", "raw [-1,1)"],
                ["PE L=8"], "2D")
