"""The maps `specbias analyze` draws for a 1D/2D grid small enough to show: the per-point maps
(``<name>_maps.npz``) and their figures (region map, neighbour Hamming, neuron view, and with
--boundary / --grads output / --lc the boundary-distance, slope, gradient-norm, coherence and
local-complexity maps); with the ids in a file, the local-complexity map alone, from the file
of every point's total."""
from __future__ import annotations

import os

import numpy as np

from ..analysis.point_maps import balanced_neurons, point_maps
from ..data.grids import CoordinateGrid
from ..data.signals import sum_of_sines
from ..nets.encodings import Encoding
from ..plots.analysis_figures import LC_FIGURE, analysis_figures, maps_summary, meta_array
from ..plots.fits import encoding_label, model_label
from ..plots.maps import local_complexity_map
from ..plots.output import save_figure
from ..runs.files import atomic_save_npz
from .analyze_models import Resolved
from .analyze_request import AnalyzeRequest
from .train import paper_freqs


def _label(module, enc) -> tuple[str, dict | None]:
    """(figure label: network and encoding, the encoding's description)."""
    if hasattr(module, "describe") and hasattr(module, "encoding"):
        desc = module.describe()
        return model_label(desc), desc.get("encoding")
    if enc is not None and not isinstance(enc, Encoding):     # the user's own encoding
        return f"{type(module).__name__}, {type(enc).__name__}", None
    enc_desc = enc.describe() if enc is not None else {"name": "raw"}
    return ", ".join(p for p in (type(module).__name__, encoding_label(enc_desc)) if p), enc_desc


def _target_1d(saved: dict, grid, shape):
    """The sum of sines a `specbias train` run fitted, on this 1D grid of its range (None when
    the run fitted something else, the grid covers another range or is too coarse for it)."""
    if saved.get("signal") != "sines" or not isinstance(grid, CoordinateGrid) or \
            list(grid.coord_range) != list(saved.get("coord_range", (0.0, 1.0))):
        return None
    freqs = paper_freqs(int(saved["grid_shape"][0]))
    if 2 * max(freqs, default=0) >= shape[0]:
        return None    # a grid too coarse for the target's top frequency would alias it
    return sum_of_sines(shape[0], freqs).y.numpy()


def draw_maps(request: AnalyzeRequest, resolved: Resolved, result, stats, arrays, grid, shape,
              device, out: str, name: str) -> tuple[list, str]:
    """``<name>_maps.npz`` and the figures (PNG + PDF); returns (paths, one-line summary)."""
    if request.neurons:
        neurons = list(request.neurons)
    else:
        neurons = balanced_neurons(result.bit_counts, result.layer_bits, result.num_points,
                                   [0, len(result.layer_bits) - 1])
    maps = point_maps(resolved.target, grid, result.ids, result.num_regions,
                      encoding=resolved.encoding, tile=request.tile,
                      neurons=neurons if len(shape) == 2 else (), boundary=request.boundary,
                      grads=request.grads, device=device)
    label, enc_desc = _label(resolved.module, resolved.encoding)
    maps["meta"] = meta_array(label, enc_desc)
    if resolved.encoding is not None and enc_desc is None:
        # the first layer reads the user's encoding, which the figures cannot rebuild
        maps.pop("first_layer_weight", None)
        maps.pop("first_layer_bias", None)
    if len(shape) == 1:
        target = _target_1d(resolved.saved, grid, shape)
        if target is not None:
            maps["target"] = target
    atomic_save_npz(os.path.join(out, f"{name}_maps.npz"), **maps)
    paths = []
    for suffix, fig in analysis_figures(stats, arrays, maps).items():
        paths += save_figure(fig, os.path.join(out, name + suffix), ("png", "pdf"))
    return paths, maps_summary(stats, maps)


def draw_lc_map_from_file(resolved: Resolved, stats: dict, lc_path: str, out: str,
                          name: str) -> list:
    """The local-complexity heat map ``<name>_lc.png|pdf`` of a 2D grid from every point's
    total in ``lc_path`` (read memory-mapped), titled from the summary ``stats``; returns the
    paths."""
    totals = np.load(lc_path, mmap_mode="r")
    lc = stats["local_complexity"]
    label, _ = _label(resolved.module, resolved.encoding)
    fig = local_complexity_map(totals, radius=lc["radius"], method=lc["method"],
                               grid=stats["grid"], label=label)
    return save_figure(fig, os.path.join(out, name + LC_FIGURE), ("png", "pdf"))
