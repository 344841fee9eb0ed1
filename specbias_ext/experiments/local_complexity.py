"""lc-dynamics (an extension, not in the paper): local complexity (LC, the linear-region
literature's count of neurons whose boundary passes within a radius of a point) over training,
beside the paper's local Hamming distance on the same models, for raw [0,1), raw [-1,1) and PE on
the 1D signal and on the 2D image.

Per model and record: the sampled LC of every training point (radius = the grid step, the D
coordinate axes: the hull vertices are the point's grid neighbours' positions), its first-order
LC, and the point's local Hamming distance (mean Hamming distance of its pattern to its grid
neighbours'). Measured comparisons, each with a 95% interval over seeds:

- agreement across points: per record, the Pearson correlation of LC and local Hamming over the
  grid, averaged over the records where both vary;
- agreement across epochs: the Pearson correlation of the grid means of LC and of local Hamming
  over the records;
- descent then ascent (the dynamics reported for LC by Humayun et al.): grid-mean LC at epoch 0
  above its value at the trough (the record where the seeds' mean is lowest), and at the last
  epoch above the trough. The trough is picked on the same data, so a descent or an ascent of
  pure noise can show; the interval over seeds is what guards against it.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from .. import measure
from ..plots import experiment_figures as plots
from . import claims as C
from .base import Context, ExperimentResult, key
from .common import patterns_at
from .variants import VARIANTS

NAME = "lc-dynamics"
EXTENSION = "extension, not in the paper"
SOURCE = ("extension, not in the paper: local complexity as in Humayun, Balestriero and "
          "Baraniuk, 'Training Dynamics of Deep Network Linear Regions' (2023) and 'Deep "
          "Networks Always Grok' (2024)")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def _measure_model(ctx, tset, variant, seed, radius):
    """Per record: grid-mean sampled LC, per-layer means, grid-mean first-order LC, grid-mean
    local Hamming, and the per-record point correlation (NaN where undefined); plus the final
    per-point LC."""
    task = tset.task
    coords = task.coords(variant).to(device=ctx.device, dtype=torch.float32)
    encoding = task.encoding(variant)
    rows = []
    final_points = None
    for k in range(len(task.record_epochs)):
        p, net = patterns_at(tset, variant, seed, k, ctx.device)
        lc = measure.local_complexity(coords, encoding, net, radius, grid_shape=task.grid_shape)
        first = measure.local_complexity(coords, encoding, net, radius, method="first_order")
        ham = measure.neighbour_hamming(p, task.grid_shape)
        total = lc.total.to(torch.float64)
        rows.append((float(total.mean()), lc.counts.to(torch.float64).mean(0).cpu().numpy(),
                     float(first.total.to(torch.float64).mean()), float(ham.mean()),
                     pearson(total.cpu().numpy(), ham.cpu().numpy())))
        final_points = lc.total.cpu().numpy().astype(np.int32)
    return rows, final_points


def _curves(ctx, tset, variants, seeds, desc):
    task = tset.task
    out = {}
    bar = tqdm(total=len(variants) * len(seeds), disable=ctx.quiet, leave=False, desc=desc)
    for v in variants:
        lo, hi = v.coord_range
        radius = (hi - lo) / task.grid_shape[0]   # the grid step (square grids)
        per_seed = []
        finals = []
        for s in seeds:
            rows, final_points = _measure_model(ctx, tset, v, s, radius)
            per_seed.append(rows)
            finals.append(final_points)
            bar.update(1)
        out[v.label] = {
            "lc": np.array([[r[0] for r in rows] for rows in per_seed]),
            "lc_layers": np.array([[r[1] for r in rows] for rows in per_seed]),
            "lc_first_order": np.array([[r[2] for r in rows] for rows in per_seed]),
            "hamming": np.array([[r[3] for r in rows] for rows in per_seed]),
            "corr_points_per_record": np.array([[r[4] for r in rows] for rows in per_seed]),
            "lc_final_points": np.stack(finals),
            "radius": radius,
        }
    bar.close()
    return out


def _agreement(c) -> tuple[list, list, int]:
    """Per seed: mean point correlation over the records where it is defined, and the epoch
    correlation; undefined values (nothing varies) count as 0 and are counted."""
    points, epochs, undefined = [], [], 0
    for s in range(c["lc"].shape[0]):
        per_record = c["corr_points_per_record"][s]
        defined = per_record[np.isfinite(per_record)]
        if defined.size:
            points.append(float(defined.mean()))
        else:
            points.append(0.0)
            undefined += 1
        e = pearson(c["lc"][s], c["hamming"][s])
        if np.isfinite(e):
            epochs.append(e)
        else:
            epochs.append(0.0)
            undefined += 1
    return points, epochs, undefined


def _claims(tag, curves, epochs) -> tuple[list, dict]:
    claims, derived = [], {}
    for label, c in curves.items():
        points, over_epochs, undefined = _agreement(c)
        note = (f"{undefined} undefined correlation(s) (LC or local Hamming constant) counted "
                "as 0" if undefined else "")
        lk = f"{tag}-{key(label)}"
        claims.append(C.above(
            NAME, f"corr-points-{lk}",
            f"{EXTENSION}: LC and local Hamming agree across points ({tag}, {label})",
            f"mean over records of the Pearson correlation across points, {label}", points, 0.0,
            note=note, source=SOURCE))
        claims.append(C.above(
            NAME, f"corr-epochs-{lk}",
            f"{EXTENSION}: LC and local Hamming agree across epochs ({tag}, {label})",
            f"Pearson correlation of the grid means over records, {label}", over_epochs, 0.0,
            note=note, source=SOURCE))
        lc = c["lc"]
        trough = int(np.argmin(lc.mean(0)))
        at = f"epoch {epochs[trough]} (trough of the seed mean)"
        claims.append(C.greater(
            NAME, f"descent-{lk}",
            f"{EXTENSION}: LC descends early in training, as published for LC ({tag}, {label})",
            f"grid-mean LC at epoch {epochs[0]}", lc[:, 0], f"grid-mean LC at {at}",
            lc[:, trough], note="the trough is chosen on the same runs", source=SOURCE))
        claims.append(C.greater(
            NAME, f"ascent-{lk}",
            f"{EXTENSION}: LC then ascends, as published for LC ({tag}, {label})",
            f"grid-mean LC at epoch {epochs[-1]}", lc[:, -1], f"grid-mean LC at {at}",
            lc[:, trough], note="the trough is chosen on the same runs", source=SOURCE))
        derived[label] = {"corr_points": points, "corr_epochs": over_epochs,
                          "trough_epoch": epochs[trough], "radius": c["radius"]}
    return claims, derived


def _figure(ctx, panels):
    fig, axes = plots.new_figure(ncols=3, nrows=len(panels))
    for row, (tag, epochs, curves) in enumerate(panels):
        for col, (what, ylabel) in enumerate((("lc", "mean sampled LC (neurons)"),
                                              ("lc_first_order", "mean first-order LC"),
                                              ("hamming", "mean local Hamming"))):
            ax = axes[row][col]
            for label, c in curves.items():
                plots.band(ax, epochs, c[what], label)
            plots.finish(ax, "epoch", ylabel, f"{tag}: {ylabel} ({EXTENSION})")
    return plots.save(fig, ctx.figures(NAME), "lc_vs_hamming")[0]


def lc_dynamics(ctx: Context) -> ExperimentResult:
    start = time.perf_counter()
    train_s = 0.0
    panels, claims, series, arrays, settings = [], [], {}, {}, {}
    for tag, task, seeds in (("1D", ctx.preset.task1d, ctx.seeds),
                             ("2D", ctx.preset.task2d, ctx.seeds2d)):
        variants = VARIANTS[f"{NAME}-{tag.lower()}"]
        tset, seconds = ctx.cache.get(task, variants, seeds)
        train_s += seconds
        curves = _curves(ctx, tset, variants, seeds, f"{NAME} {tag}")
        epochs = task.record_epochs
        part, derived = _claims(tag, curves, epochs)
        claims += part
        panels.append((tag, epochs, curves))
        series[tag] = {"epochs": epochs, "derived": derived,
                       "curves": {label: {k: c[k].tolist() for k in
                                          ("lc", "lc_layers", "lc_first_order", "hamming",
                                           "corr_points_per_record")}
                                  for label, c in curves.items()}}
        for label, c in curves.items():
            for k in ("lc", "lc_layers", "lc_first_order", "hamming", "corr_points_per_record",
                      "lc_final_points"):
                arrays[f"{tag}__{key(label)}__{k}"] = c[k]
        settings[tag] = {"task": task.describe(), "variants": [v.describe() for v in variants],
                         "seeds": list(seeds)}
    fig = _figure(ctx, panels)
    settings["lc"] = {"method": "sampled", "radius": "the grid step", "directions":
                      "the coordinate axes", "include_centre": False,
                      "first_order": "|z| / ||grad_c z|| <= the grid step",
                      "local_hamming": "mean Hamming distance to the grid neighbours",
                      "note": EXTENSION}
    summ = "; ".join(f"{tag} {label}: LC {c['lc'][:, 0].mean():.2f}->{c['lc'][:, -1].mean():.2f}, "
                     f"corr(points) {np.mean(_agreement(c)[0]):.2f}"
                     for tag, _, curves in panels for label, c in curves.items())
    return ExperimentResult(
        NAME, f"Local complexity over training beside local Hamming ({EXTENSION})", settings,
        series, arrays, [fig], claims,
        {"train_s": train_s, "measure_s": time.perf_counter() - start - train_s},
        f"{EXTENSION}: {summ}")
