"""Helpers shared by the experiment modules: pair sets (and their description in words), grid
names, snapshots as networks, their patterns, and the Hamming and region-count curves over
training (hamming-1d/2d/layers and noise-2d)."""
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


def grid_name(shape) -> str:
    """``"2048-point"`` or ``"64x64"``: a grid's size as figures and captions name it."""
    return f"{shape[0]}-point" if len(shape) == 1 else "x".join(map(str, shape))


def pairs_text(sampling, dims: int) -> str:
    """The local and global pairs of a pair sampling, in words."""
    d = sampling.describe(dims)
    loc, glo = d["local"], d["global"]
    if dims == 1:
        local = (f"{loc['pairs_per_window']} pairs in each of {loc['num_windows']} windows of "
                 f"{loc['window']} consecutive points")
        far = (f"{glo['num_pairs']} pairs with one point in the first and one in the last "
               f"{100 * glo['frac']:.0f}% of the grid")
    else:
        local = (f"{loc['pairs_per_patch']} pairs in each of {loc['num_patches']} "
                 f"{loc['patch']}x{loc['patch']} patches")
        far = (f"{glo['num_pairs']} pairs between opposite corners covering "
               f"{100 * glo['frac']:.0f}% of each axis")
    return f"local: {local}; global: {far}"


def saturation_line(ax, points: int, saturation: float) -> None:
    """A dashed line where a count on a grid of ``points`` points starts to saturate it."""
    ax.axhline(saturation * points, color="0.45", lw=0.8, ls="--",
               label=f"saturation ({saturation:g} x points)")


def hamming_figure(ctx, name, epochs, curves, title_prefix, shape, sampling, seeds):
    """Local and global Hamming distance and the region count on the training grid over
    training, one band per variant (mean and spread over seeds); (PNG path, caption)."""
    grid, points = grid_name(shape), int(np.prod(shape))
    fig, axes = plots.new_figure(ncols=3)
    for col, kind in enumerate(("local", "global")):
        ax = axes[0][col]
        for label, c in curves.items():
            plots.band(ax, epochs, c[kind], label)
        plots.finish(ax, "epoch", "mean Hamming distance (bits)", f"{title_prefix}: {kind} pairs")
    for label, c in curves.items():
        plots.band(axes[0][2], epochs, c["regions"], label)
    saturation_line(axes[0][2], points, ctx.preset.saturation)
    plots.finish(axes[0][2], "epoch", f"distinct patterns on the {grid} grid",
                 f"{title_prefix}: regions on the training grid", logy=True)
    path = plots.save(fig, ctx.figures(name), "hamming_vs_epoch")[0]
    caption = (f"Mean Hamming distance between the activation patterns of local and global "
               f"point pairs over training (left, middle; {pairs_text(sampling, len(shape))}) "
               f"and the number of distinct activation patterns on the {grid} training grid "
               f"(right, log scale: a lower bound of the region count, saturated above the "
               f"dashed line at {ctx.preset.saturation:g} of its {points} points). Lines: mean "
               f"over {len(seeds)} seed(s); bands: min to max.")
    return path, caption


def curve_series(curves, epochs) -> dict:
    """The curves as the JSON series of results.json."""
    return {"epochs": epochs,
            "curves": {label: {kind: c[kind].tolist() for kind in c}
                       for label, c in curves.items()}}


def curve_arrays(curves) -> dict:
    """The curves as arrays.npz entries, ``<variant>__<kind>``."""
    return {f"{key(label)}__{kind}": arr
            for label, cs in curves.items() for kind, arr in cs.items()}
