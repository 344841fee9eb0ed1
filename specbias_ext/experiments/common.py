"""Helpers shared by the experiment modules: pair sets, snapshots as networks, their patterns,
and the Hamming and region-count curves over training (hamming-1d/2d/layers and noise-2d)."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .. import measure
from ..plots import experiment_figures as plots
from .base import Context, key
from .tasks import TrainedSet
from .variants import Variant


def pairs_1d(preset, n: int, seed: int = 0) -> dict:
    return preset.pairs.sample((n,), seed)


def pairs_2d(preset, shape, seed: int = 0) -> dict:
    return preset.pairs.sample(shape, seed)


def inputs(tset: TrainedSet, variant: Variant, device) -> torch.Tensor:
    return tset.inputs[variant].to(device)


def patterns_at(tset: TrainedSet, variant: Variant, seed: int, k: int, device):
    """(patterns on the whole grid, ReluNetwork) of model (variant, seed) at record k."""
    net = tset.network(variant, seed, k).to(device)
    return measure.patterns(inputs(tset, variant, device), net), net


def grad_out_at(tset: TrainedSet, variant: Variant, seed: int, k: int, device) -> torch.Tensor:
    """The MSE grad_out of model (variant, seed) at record k."""
    return measure.mse_grad_out(tset.fit(variant, seed, k).to(device), tset.target.to(device))


def hamming_curves(ctx: Context, tset, variants, seeds, pairs, desc, per_layer=False):
    """{label: {"local": [seeds, records], "global": ..., "regions": [seeds, records]}}
    (per layer: Hamming arrays are [seeds, records, layers])."""
    out = {}
    records = len(tset.task.record_epochs)
    bar = tqdm(total=len(variants) * len(seeds) * records, disable=ctx.quiet, leave=False,
               desc=desc)
    for v in variants:
        curves = {kind: [] for kind in list(pairs) + ["regions"]}
        for s in seeds:
            per_seed = {kind: [] for kind in list(pairs) + ["regions"]}
            for k in range(records):
                p, net = patterns_at(tset, v, s, k, ctx.device)
                for kind, (i, j) in pairs.items():
                    per_seed[kind].append(measure.mean_pair_hamming(
                        p, i, j, net if per_layer else None).cpu().numpy())
                per_seed["regions"].append(np.float64(measure.region_count(p)))
                bar.update(1)
            for kind in per_seed:
                curves[kind].append(np.stack(per_seed[kind]))
        out[v.label] = {kind: np.stack(c) for kind, c in curves.items()}
    bar.close()
    return out


def hamming_figure(ctx, name, epochs, curves, title_prefix):
    """Local and global Hamming distance and the region count over training, one band per
    variant (mean and spread over seeds); the saved PNG's path."""
    fig, axes = plots.new_figure(ncols=3)
    for col, kind in enumerate(("local", "global")):
        ax = axes[0][col]
        for label, c in curves.items():
            plots.band(ax, epochs, c[kind], label)
        plots.finish(ax, "epoch", "mean Hamming distance", f"{title_prefix}: {kind} pairs")
    for label, c in curves.items():
        plots.band(axes[0][2], epochs, c["regions"], label)
    plots.finish(axes[0][2], "epoch", "linear regions on the grid", f"{title_prefix}: regions",
                 logy=True)
    return plots.save(fig, ctx.figures(name), "hamming_vs_epoch")[0]


def curve_series(curves, epochs) -> dict:
    """The curves as the JSON series of results.json."""
    return {"epochs": epochs,
            "curves": {label: {kind: c[kind].tolist() for kind in c}
                       for label, c in curves.items()}}


def curve_arrays(curves) -> dict:
    """The curves as arrays.npz entries, ``<variant>__<kind>``."""
    return {f"{key(label)}__{kind}": arr
            for label, cs in curves.items() for kind, arr in cs.items()}
