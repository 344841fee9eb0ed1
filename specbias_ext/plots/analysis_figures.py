"""The figures of one `specbias analyze` output, from its files alone.

An analysis named ``regions_<grid>`` leaves ``<name>.json`` (the summary), ``<name>.npz``
(``ids``, region sizes, with ``--grads output`` the region ``coherence``, with ``--lc`` every
point's local complexity ``lc_counts [*shape, layers]``) and, for a 1D or
2D grid that is drawn, ``<name>_maps.npz`` (``analysis.point_maps``: the pattern key of every
region, the per-axis neighbour Hamming distances, chosen neurons' on/off maps, the first layer,
and as computed the boundary distance, coordinate slope, gradient norm or the 1D fit and target,
plus ``meta``: a JSON string with the label and the encoding's description).
``analysis_figures`` turns them into Figures; `specbias analyze` and `specbias plot` both call
it, so a figure redrawn from the files is the figure the analysis drew.
"""
from __future__ import annotations

import json
from typing import Mapping, Optional

import numpy as np

from ..nets.encodings import make_encoding
from .fits import fit_1d
from .maps import (boundary_distance_map, coherence_map, grad_norm_map, hamming_map,
                   local_complexity_map, region_map, slope_map)
from .neurons import neuron_view

#: The suffix of the local-complexity heat map (also drawn alone, from the file of every
#: point's total, when the ids are in a file).
LC_FIGURE = "_lc"
#: Figure names (file suffixes after ``<name>``), in the order they are drawn.
FIGURES = ("", "_hamming", "_neurons", "_boundary", "_slope", "_grad_norm", "_coherence",
           LC_FIGURE)


def maps_meta(maps: Mapping) -> dict:
    """The ``meta`` JSON of a maps file ({} when absent)."""
    if "meta" not in maps:
        return {}
    return json.loads(str(np.asarray(maps["meta"])))


def meta_array(label: str, encoding: Optional[dict]) -> np.ndarray:
    """``meta`` as stored in a maps file (a unicode array: no pickle needed to read it)."""
    return np.asarray(json.dumps({"label": label, "encoding": encoding}))


def _encoding(meta: dict):
    desc = meta.get("encoding")
    if not desc or desc.get("name") == "raw":
        return None
    return make_encoding(desc)


def analysis_figures(summary: Mapping, arrays: Mapping, maps: Mapping, *,
                     cmap: Optional[str] = None) -> dict:
    """``{suffix: Figure}`` for everything the files hold (suffixes from ``FIGURES``)."""
    grid = summary.get("grid") or {"shape": summary.get("grid_shape")}
    shape = tuple(grid.get("shape") or summary.get("grid_shape"))
    meta = maps_meta(maps)
    label = meta.get("label", "")
    count = int(summary.get("regions", 0))
    ids = np.asarray(arrays["ids"]) if "ids" in arrays else None
    keys = np.asarray(maps["region_keys"]) if "region_keys" in maps else None
    heat = {"cmap": cmap} if cmap else {}
    figs = {}
    if ids is None:
        return figs
    if len(shape) == 1:
        lo, hi = (float(v) for v in grid.get("coord_range", (0.0, 1.0)))
        t = lo + (hi - lo) * np.arange(shape[0]) / shape[0]
        fit = maps.get("fit")
        target = maps.get("target")
        figs[""] = fit_1d(t, fit, target, ids, label=label, grid=grid)
        return figs
    figs[""] = region_map(ids, keys, grid=grid, label=label, count=count)
    if "hamming_axis0" in maps:
        figs["_hamming"] = hamming_map([maps["hamming_axis0"], maps["hamming_axis1"]],
                                       grid=grid, label=label, **heat)
    weight = maps.get("first_layer_weight")
    enc = _encoding(meta)
    in_dim = 2 if enc is None else enc.out_dim
    if weight is not None and (np.shape(weight)[1] != in_dim or grid.get("kind") == "plane"):
        weight = None           # a first layer that does not read this plane's coordinates
    on = {}
    if "neuron_on" in maps:
        on = {(int(l), int(i)): m for (l, i), m in zip(maps["neuron_ids"], maps["neuron_on"])}
    if weight is not None or on:
        figs["_neurons"] = neuron_view(on, weight=weight, bias=maps.get("first_layer_bias"),
                                       encoding=enc, grid=grid, label=label)
    if "boundary_distance" in maps:
        figs["_boundary"] = boundary_distance_map(maps["boundary_distance"], grid=grid,
                                                  label=label, **heat)
        figs["_slope"] = slope_map(maps["coord_slope"], grid=grid, label=label, **heat)
    if "grad_norm" in maps:
        figs["_grad_norm"] = grad_norm_map(maps["grad_norm"], grid=grid, label=label, **heat)
    if "coherence" in arrays:
        figs["_coherence"] = coherence_map(arrays["coherence"], ids, grid=grid, label=label,
                                           **heat)
    lc = summary.get("local_complexity")
    if "lc_counts" in arrays and lc:
        figs[LC_FIGURE] = local_complexity_map(arrays["lc_counts"], radius=lc["radius"],
                                           method=lc["method"], grid=grid, label=label, **heat)
    return figs


def maps_summary(summary: Mapping, maps: Mapping) -> str:
    """One line of what the maps show (the count, saturation marked, is printed beside it)."""
    parts = []
    means = summary.get("neighbor_mean_hamming_per_axis")
    if means:
        parts.append("mean neighbour Hamming " + " / ".join(
            "n/a" if m is None else f"{m:.3g}" for m in means) + " bits per axis")
    if "boundary_distance" in maps:
        d = np.asarray(maps["boundary_distance"], dtype=np.float64)
        d = d[np.isfinite(d)]
        if d.size:
            parts.append(f"median boundary distance {np.median(d):.3g}")
        s = np.asarray(maps["coord_slope"], dtype=np.float64)
        parts.append(f"median coordinate slope {np.median(s):.3g}")
    if "grad_norm" in maps:
        parts.append(f"median gradient norm {np.median(maps['grad_norm']):.3g}")
    rg = summary.get("region_grads")
    if rg and rg.get("coherence_weighted") is not None:
        parts.append(f"size-weighted coherence {rg['coherence_weighted']:.3g}")
    return "; ".join(parts)
