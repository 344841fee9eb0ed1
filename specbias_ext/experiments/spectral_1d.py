"""spectral-1d: |DFT(f - y)(k)| / |DFT(y)(k)| at each target frequency over training."""
from __future__ import annotations

import time

import numpy as np

from ..measure import spectral_residual_1d
from . import claims as C
from ..plots import experiment_figures as plots
from .base import Context, ExperimentResult, key
from .variants import VARIANTS

CONVERGED = 0.1    # residual below this counts as converged
STALLED = 0.5      # residual above this at the end counts as stalled


def spectral_1d(ctx: Context) -> ExperimentResult:
    name = "spectral-1d"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    freqs = list(task.freqs)
    y = tset.target[:, 0]
    res = {}
    for v in variants:
        res[v.label] = np.stack([
            np.stack([spectral_residual_1d(tset.fit(v, s, k)[:, 0], y, freqs).numpy()
                      for k in range(len(task.record_epochs))], 1) for s in ctx.seeds])
        # [seeds, freqs, records]
    epochs = task.record_epochs
    fig, axes = plots.new_figure(ncols=len(variants), width=3.3)
    for ax, v in zip(axes[0], variants):
        im = plots.heatmap(ax, epochs, freqs, res[v.label].mean(0), v.label)
    fig.colorbar(im, ax=list(axes[0]), label="|DFT(f-y)| / |DFT(y)|", shrink=0.9)
    figs = [plots.save(fig, ctx.figures(name), "spectral_heatmaps")[0]]
    fig, axes = plots.new_figure()
    for l, r in res.items():
        plots.band(axes[0][0], freqs, r[:, :, -1], l)
    plots.finish(axes[0][0], "frequency k", "residual at the last epoch", "final residual")
    figs.append(plots.save(fig, ctx.figures(name), "final_residual_vs_frequency")[0])
    n = task.grid_shape[0]
    captions = {
        figs[0]: (f"Relative residual |DFT(f - y)(k)| / |DFT(y)(k)| at each frequency k of the "
                  f"target (rows) over training (columns), one panel per encoding, from the "
                  f"fit on the {n}-point training grid (mean over {len(ctx.seeds)} seed(s); 0: "
                  "that frequency is fitted, 1: not at all)."),
        figs[1]: (f"The same residual at the last epoch against the frequency k (mean over "
                  f"{len(ctx.seeds)} seed(s), band: min to max; {n}-point training grid)."),
    }

    lo, hi = 0, len(freqs) - 1
    st_raw = "raw inputs converge low k first and stall at high k"
    st_pe = "PE converges all k"
    claims = []
    for l in ("raw [0,1)", "raw [-1,1)"):
        r = res[l]
        claims.append(C.less(name, f"low-first-{key(l)}", st_raw,
                             f"final residual at k={freqs[lo]} {l}", r[:, lo, -1],
                             f"final residual at k={freqs[hi]} {l}", r[:, hi, -1]))
        claims.append(C.above(name, f"stalls-{key(l)}", st_raw,
                              f"final residual at k={freqs[hi]} {l}", r[:, hi, -1], STALLED))
    for l in ("PE L=4", "PE L=7"):
        claims.append(C.below(name, f"converges-{key(l)}", st_pe,
                              f"final max residual over k {l}", res[l][:, :, -1].max(1),
                              CONVERGED))
    summ = ", ".join(f"{l}: k={freqs[lo]} {r[:, lo, -1].mean():.2f}, k={freqs[hi]} "
                     f"{r[:, hi, -1].mean():.2f}" for l, r in res.items()) + " final residual"
    return ExperimentResult(
        name, "Frequency-resolved residual over training (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants],
         "seeds": ctx.seeds, "converged_below": CONVERGED, "stalled_above": STALLED},
        {"epochs": epochs, "freqs": freqs, "residual": {l: r.tolist() for l, r in res.items()}},
        {f"{key(l)}__residual": r for l, r in res.items()}, figs, claims,
        {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ,
        captions=captions)
