"""Figures in the paper's form (matplotlib's object API, no pyplot state): curves with bands over
seeds, densities, fits with region boundaries, spectral heatmaps. One colour per encoding label
across every figure. Region maps are drawn by ``plots.maps`` (colours from the patterns)."""
from __future__ import annotations

import io
import os

import numpy as np
from matplotlib import colormaps

from ..runs.files import atomic_write_bytes
from .frame import new_figure as _figure

# One fixed colour per encoding (no greys: the target is drawn in grey).
_COLOURS = {
    "raw [0,1)": "#1f77b4", "raw [-1,1)": "#ff7f0e", "raw [-2,2)": "#bcbd22",
    "raw [-3,3)": "#8c564b", "PE L=1": "#2ca02c", "PE L=2": "#17becf", "PE L=4": "#e377c2",
    "PE L=7": "#d62728", "PE L=8": "#9467bd", "PE L=12": "#393b79", "PE L=16": "#637939",
    "PE L=20": "#000000",
}
_PALETTE = colormaps["tab10"].colors


def colour(label: str):
    """The colour of an encoding label, the same in every figure."""
    if label in _COLOURS:
        return _COLOURS[label]
    return _PALETTE[sum(map(ord, label)) % len(_PALETTE)]


def new_figure(ncols=1, nrows=1, width=4.2, height=3.2):
    """``(Figure, axes [nrows, ncols])`` with constrained layout."""
    fig = _figure(width * ncols, height * nrows)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def band(ax, x, values, label, color=None):
    """Mean over seeds (rows of ``values``) with a min-max band."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None]
    color = color or colour(label)
    ax.plot(x, v.mean(0), label=label, color=color, lw=1.6)
    if v.shape[0] > 1:
        ax.fill_between(x, v.min(0), v.max(0), color=color, alpha=0.2, lw=0)


def density(ax, values, label, bins=50, lo=-1.0, hi=1.0, color=None):
    hist, edges = np.histogram(np.asarray(values), bins=bins, range=(lo, hi), density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax.plot(centres, hist, label=label, color=color or colour(label), lw=1.4)
    return hist, edges


def heatmap(ax, epochs, freqs, residual, title):
    """Residual per frequency (rows) over epochs (columns)."""
    r = np.asarray(residual)
    im = ax.imshow(r, aspect="auto", origin="lower", cmap="viridis", vmin=0.0, vmax=1.0,
                   extent=(epochs[0], epochs[-1], -0.5, len(freqs) - 0.5), interpolation="nearest")
    step = max(1, len(freqs) // 7)
    ax.set_yticks(range(0, len(freqs), step))
    ax.set_yticklabels([str(f) for f in freqs[::step]])
    ax.set_xlabel("epoch")
    ax.set_ylabel("frequency k")
    ax.set_title(title, fontsize=9)
    return im


def finish(ax, xlabel, ylabel, title=None, legend=True, logy=False):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("log")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.25, lw=0.5)


def save(fig, folder: str, stem: str) -> list[str]:
    """Write ``stem.png`` and ``stem.pdf`` atomically; returns both paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for ext, kw in (("png", {"dpi": 130}), ("pdf", {})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, **kw)
        path = os.path.join(folder, f"{stem}.{ext}")
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def layer_colour(layer_index: int):
    """Colour of hidden layer ``layer_index`` (0-based) in per-layer figures."""
    return colormaps["viridis"](0.1 + 0.8 * (layer_index % 6) / 5)
