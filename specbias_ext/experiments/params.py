"""param-norms (largest singular value per layer and their product) and angles (cosines between
hyperplane normals, i.e. rows of each layer's weight) over training."""
from __future__ import annotations

import time

import numpy as np
from ..measure import hyperplane_cosines, layer_spectral_norms
from . import claims as C
from ..plots import experiment_figures as plots
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
    caption = (f"Largest singular value of each layer's weight (right, one line per layer) and "
               f"their product, a bound of the network's Lipschitz constant (left, log scale), "
               f"over training of the {task.depth}x{task.width} 1D MLPs (mean over "
               f"{len(ctx.seeds)} seed(s), band: min to max). No grid is involved.")
    claims = [C.greater(name, f"grows-{key(l)}", "norms grow during training",
                        f"final norm product {l}", p[:, -1], f"initial norm product {l}", p[:, 0],
                        kind="ratio", source="paper: parameter norms over training")
              for l, p in product.items()]
    summ = ", ".join(f"{l}: x{(p[:, -1] / p[:, 0]).mean():.2f}" for l, p in product.items()) + \
        " norm-product growth"
    return ExperimentResult(
        name, "Largest singular value of each layer and their product over training (1D)",
        {"task": task.describe(), "variants": [v.describe() for v in variants], "seeds": ctx.seeds},
        {"epochs": epochs, "layer_norms": {l: n.tolist() for l, n in norms.items()},
         "product": {l: p.tolist() for l, p in product.items()}},
        {f"{key(l)}__layer_norms": n for l, n in norms.items()}, [fig_path], claims,
        {"train_s": train_s, "measure_s": time.perf_counter() - start}, summ,
        captions={fig_path: caption})


def _mean_abs_cos(tset, variants, seeds, depth) -> dict:
    """{label: [seeds, records, depth]} mean |cos| between the normals (weight rows) per layer."""
    records = len(tset.task.record_epochs)
    out = {}
    for v in variants:
        out[v.label] = np.asarray([[[float(hyperplane_cosines(tset.params(v, s, k)[0][l]).abs().mean())
                                     for l in range(depth)] for k in range(records)]
                                   for s in seeds])
    return out


ANGLES_SOURCE = "paper: hyperplane angles (cosines between normals over training)"


def angles(ctx: Context) -> ExperimentResult:
    """Angles where they carry information: 1D PE (raw 1D layer-1 normals are scalars, so their
    |cos| is 1 by construction), 2D raw and PE inputs, and every layer (layers 2.. see the
    previous layer's activations, for raw inputs too)."""
    name = "angles"
    t1, t2 = ctx.preset.task1d, ctx.preset.task2d
    v1, v2 = VARIANTS[name], VARIANTS["angles-2d"]
    tset1, s1 = ctx.cache.get(t1, v1, ctx.seeds)
    tset2, s2 = ctx.cache.get(t2, v2, ctx.seeds2d)
    start = time.perf_counter()
    m1 = _mean_abs_cos(tset1, v1, ctx.seeds, t1.depth)
    m2 = _mean_abs_cos(tset2, v2, ctx.seeds2d, t2.depth)
    fig, axes = plots.new_figure(ncols=3)
    for l, m in m1.items():
        if not l.startswith("raw"):
            plots.band(axes[0][0], t1.record_epochs, m[:, :, 0], f"1D {l}")
    plots.finish(axes[0][0], "epoch", "mean |cos| between layer-1 normals", "1D, layer 1")
    for l, m in m2.items():
        plots.band(axes[0][1], t2.record_epochs, m[:, :, 0], f"2D {l}")
        plots.band(axes[0][2], t2.record_epochs, m[:, :, 1:].mean(2), f"2D {l}")
    plots.finish(axes[0][1], "epoch", "mean |cos|", "2D, layer 1")
    plots.finish(axes[0][2], "epoch", "mean |cos|", "2D, layers 2..L (mean)")
    fig_path = plots.save(fig, ctx.figures(name), "hyperplane_angles")[0]
    caption = ("Mean |cos| between the normals of a layer's hyperplanes (the rows of its weight) "
               "over training: 1D PE networks' first layer (left; raw 1D normals are scalars), "
               "2D networks' first layer (middle) and the mean over their deeper layers (right); "
               f"mean over seeds ({len(ctx.seeds)} in 1D, {len(ctx.seeds2d)} in 2D), band: min "
               "to max. No grid is involved.")
    st = "PE normals become correlated during training"
    claims = []
    for dim, mm in (("1D", m1), ("2D", m2)):
        for l, m in mm.items():
            if l.startswith("raw"):
                continue
            claims.append(C.greater(name, f"pe-correlated-{dim}-{key(l)}-layer1", st,
                                    f"{dim} final mean |cos| layer 1 {l}", m[:, -1, 0],
                                    f"{dim} initial mean |cos| layer 1 {l}", m[:, 0, 0],
                                    source=ANGLES_SOURCE))
            claims.append(C.greater(name, f"pe-correlated-{dim}-{key(l)}-deeper", st,
                                    f"{dim} final mean |cos| layers 2..L {l}",
                                    m[:, -1, 1:].mean(1),
                                    f"{dim} initial mean |cos| layers 2..L {l}",
                                    m[:, 0, 1:].mean(1), source=ANGLES_SOURCE))
    summ = ", ".join(f"{d} {l}: {m[:, 0, 0].mean():.3f} -> {m[:, -1, 0].mean():.3f}"
                     for d, mm in (("1D", m1), ("2D", m2)) for l, m in mm.items()
                     if not (d == "1D" and l.startswith("raw"))) + " mean |cos| of layer-1 normals"
    return ExperimentResult(
        name, "Cosines between hyperplane normals over training (1D PE, 2D raw and PE)",
        {"task1d": t1.describe(), "task2d": t2.describe(),
         "variants1d": [v.describe() for v in v1], "variants2d": [v.describe() for v in v2],
         "seeds": ctx.seeds, "seeds2d": ctx.seeds2d,
         "note": "raw 1D inputs: layer-1 normals are scalars, so their |cos| is 1 by construction; "
                 "they are kept in the series but carry no claim"},
        {"epochs1d": t1.record_epochs, "epochs2d": t2.record_epochs,
         "mean_abs_cos_1d": {l: m.tolist() for l, m in m1.items()},
         "mean_abs_cos_2d": {l: m.tolist() for l, m in m2.items()}},
        {**{f"1d_{key(l)}__mean_abs_cos": m for l, m in m1.items()},
         **{f"2d_{key(l)}__mean_abs_cos": m for l, m in m2.items()}},
        [fig_path], claims, {"train_s": s1 + s2, "measure_s": time.perf_counter() - start}, summ,
        captions={fig_path: caption})
