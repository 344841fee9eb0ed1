"""param-norms (largest singular value per layer and their product) and angles (cosines between
hyperplane normals, i.e. rows of each layer's weight) over training."""
from __future__ import annotations

import time

import numpy as np
from ..measure import hyperplane_cosines, layer_spectral_norms
from . import claims as C
from . import plots
from .base import Context, ExperimentResult, key
from .variants import VARIANTS


def param_norms(ctx: Context) -> ExperimentResult:
    name = "param-norms"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    records = len(task.record_epochs)
    norms = {}
    for v in variants:
        norms[v.label] = np.stack([
            np.stack([layer_spectral_norms(tset.params(v, s, k)[0]).cpu().numpy()
                      for k in range(records)]) for s in ctx.seeds])      # [seeds, records, L+1]
    product = {l: n.prod(axis=2) for l, n in norms.items()}
    epochs = task.record_epochs
    fig, axes = plots.new_figure(ncols=2)
    for l, p in product.items():
        plots.band(axes[0][0], epochs, p, l)
    plots.finish(axes[0][0], "epoch", "product of layer spectral norms", "Lipschitz bound",
                 logy=True)
    n0 = norms[variants[0].label]
    for layer_idx in range(n0.shape[2]):
        for l, n in norms.items():
            plots.band(axes[0][1], epochs, n[:, :, layer_idx],
                       l if layer_idx == 0 else None, color=plots.colour(l))
    plots.finish(axes[0][1], "epoch", "largest singular value", "each layer (one line per layer)")
    fig_path = plots.save(fig, ctx.figures(name), "param_norms_vs_epoch")[0]
    claims = [C.greater(name, f"grows-{key(l)}", "norms grow during training",
                        f"final norm product {l}", p[:, -1], f"initial norm product {l}", p[:, 0])
              for l, p in product.items()]
    summ = ", ".join(f"{l}: x{(p[:, -1] / p[:, 0]).mean():.2f}" for l, p in product.items()) + \
        " norm-product growth"
    return ExperimentResult(
        name, "Largest singular value of each layer and their product over training (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": ctx.seeds},
        {"epochs": epochs, "layer_norms": {l: n.tolist() for l, n in norms.items()},
         "product": {l: p.tolist() for l, p in product.items()}},
        {f"{key(l)}__layer_norms": n for l, n in norms.items()}, [fig_path], claims,
        {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ)


def angles(ctx: Context) -> ExperimentResult:
    name = "angles"
    task = ctx.preset.task1d
    variants = VARIANTS[name]
    tset, train_s = ctx.cache.get(task, variants, ctx.seeds)
    start = time.perf_counter()
    records = len(task.record_epochs)
    mean_abs = {}
    final_cos = {}
    for v in variants:
        rows = []
        for s in ctx.seeds:
            per_k = []
            for k in range(records):
                w = tset.params(v, s, k)[0]
                per_k.append([float(hyperplane_cosines(w[l]).abs().mean())
                              for l in range(task.depth)])
            rows.append(per_k)
        mean_abs[v.label] = np.asarray(rows)                        # [seeds, records, depth]
        final_cos[v.label] = hyperplane_cosines(tset.params(v, ctx.seeds[0], -1)[0][0]).cpu().numpy()
    epochs = task.record_epochs
    fig, axes = plots.new_figure(ncols=2)
    for l, m in mean_abs.items():
        plots.band(axes[0][0], epochs, m[:, :, 0], l)
    plots.finish(axes[0][0], "epoch", "mean |cos| between layer-1 normals",
                 "first layer (in encoded space)")
    for l, c in final_cos.items():
        if not l.startswith("raw"):          # 1D raw normals are scalars: cos is always +-1
            plots.density(axes[0][1], c, l, bins=ctx.preset.bins)
    plots.finish(axes[0][1], "cosine between layer-1 normals", "density",
                 f"last epoch, seed {ctx.seeds[0]}")
    fig_path = plots.save(fig, ctx.figures(name), "hyperplane_angles")[0]
    st = "PE normals become correlated during training"
    claims = [C.greater(name, f"pe-correlated-{key(l)}", st, f"final mean |cos| layer 1 {l}",
                        mean_abs[l][:, -1, 0], f"initial mean |cos| layer 1 {l}",
                        mean_abs[l][:, 0, 0]) for l in ("PE L=4", "PE L=7")]
    summ = ", ".join(f"{l}: {m[:, 0, 0].mean():.3f} -> {m[:, -1, 0].mean():.3f}"
                     for l, m in mean_abs.items()) + " mean |cos| of layer-1 normals"
    return ExperimentResult(
        name, "Cosines between hyperplane normals over training (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": ctx.seeds,
         "note": "raw 1D inputs: layer-1 normals are scalars, so their |cos| is 1 by construction"},
        {"epochs": epochs, "mean_abs_cos": {l: m.tolist() for l, m in mean_abs.items()}},
        {**{f"{key(l)}__mean_abs_cos": m for l, m in mean_abs.items()},
         **{f"{key(l)}__layer1_cos_final": c for l, c in final_cos.items()}},
        [fig_path], claims, {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ)
