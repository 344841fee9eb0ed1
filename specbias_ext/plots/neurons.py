"""Per-neuron views of a 2D coordinate network: where each first-layer neuron switches (its zero
set in coordinate space: straight lines for raw coordinates, curves through an encoding), and
where any chosen hidden neuron is on.

The boundary view evaluates only the first layer's affine map of the encoded display grid
(``W1 E(c) + b1``, plain torch): drawing a function's zero set, no measurement.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from .frame import PANEL_WIDTH, GridFrame, grid_frame, new_figure, style_axes

#: Longest side of the grid the first-layer zero sets are traced on.
DISPLAY_SIDE = 400
ON_COLOUR, OFF_COLOUR = (0.16, 0.33, 0.62), (0.93, 0.93, 0.90)


def _display_coords(grid: dict, frame: GridFrame, side: int):
    """(x1 values, x0 values, coordinates [side0 * side1, D]) of a display grid of the box."""
    h, w = (min(s, side) for s in frame.shape)
    a = (np.arange(h) + 0.5) / h
    b = (np.arange(w) + 0.5) / w
    if grid.get("kind") == "plane":
        o, u, v = (np.asarray(grid[k], dtype=np.float64) for k in ("origin", "u", "v"))
        pts = o + u * a[:, None, None] + v * b[None, :, None]
        return b * np.linalg.norm(v), a * np.linalg.norm(u), pts.reshape(h * w, -1)
    lo, hi = (float(x) for x in grid.get("coord_range", (0.0, 1.0)))
    x0, x1 = lo + (hi - lo) * a, lo + (hi - lo) * b
    pts = np.stack(np.meshgrid(x0, x1, indexing="ij"), axis=-1).reshape(h * w, 2)
    return x1, x0, pts


def first_layer_preactivations(weight, bias, grid: Optional[dict] = None, encoding=None,
                               side: int = DISPLAY_SIDE):
    """``(x1 [w], x0 [h], z [K, h, w])``: the first layer's pre-activations on a display grid
    (at most ``side`` points per axis) of ``grid``; ``encoding``: the module or function in
    front of the first layer (None: raw coordinates)."""
    frame = grid_frame(grid, None)
    xs, ys, pts = _display_coords(dict(grid or {}), frame, side)
    w = torch.as_tensor(np.asarray(weight), dtype=torch.float64)
    b = torch.zeros(w.shape[0], dtype=torch.float64) if bias is None else \
        torch.as_tensor(np.asarray(bias), dtype=torch.float64)
    c = torch.as_tensor(pts, dtype=torch.float64)
    with torch.no_grad():
        x = c if encoding is None else encoding(c).to(torch.float64)
        if x.shape[1] != w.shape[1]:
            raise ValueError(f"weight: the first layer takes {w.shape[1]} inputs, the "
                             f"{'encoded ' if encoding is not None else ''}coordinates have "
                             f"{x.shape[1]}")
        z = x @ w.T + b
    return xs, ys, z.T.reshape(w.shape[0], ys.shape[0], xs.shape[0]).numpy()


def draw_first_layer(ax, weight, bias, grid: Optional[dict], frame: GridFrame, encoding=None,
                     highlight: Sequence[int] = ()):
    """Zero sets of every first-layer neuron in ``ax`` (thin, coloured by index), the
    ``highlight`` ones thick and black."""
    xs, ys, z = first_layer_preactivations(weight, bias, grid, encoding)
    k = z.shape[0]
    cycle = [f"C{i % 10}" for i in range(k)]
    for i in range(k):
        if z[i].min() < 0 < z[i].max():
            strong = i in highlight
            ax.contour(xs, ys, z[i], levels=[0.0], colors="k" if strong else cycle[i],
                       linewidths=1.6 if strong else 0.6, alpha=1.0 if strong else 0.7)
    ax.set_xlim(frame.extent[0], frame.extent[1])
    ax.set_ylim(frame.extent[2], frame.extent[3])
    ax.set_aspect("equal")
    marked = f"\n(black: neuron {', '.join(map(str, highlight))})" if highlight else ""
    style_axes(ax, frame, f"where the {k} first-layer neurons switch{marked}")


def draw_on_map(ax, on, frame: GridFrame, title: str):
    on = np.asarray(on, dtype=bool)
    img = np.where(on[..., None], np.array(ON_COLOUR), np.array(OFF_COLOUR))
    ax.imshow(img, extent=frame.extent, interpolation="nearest", aspect="equal")
    frac = float(on.mean()) if on.size else 0.0
    style_axes(ax, frame, f"{title}\non at {100 * frac:.0f}% of the points")


def neuron_view(on_maps: Optional[Mapping[tuple, np.ndarray]] = None, *, weight=None,
                bias=None, encoding=None, grid: Optional[dict] = None, label: str = "",
                width: float = PANEL_WIDTH * 0.8):
    """First-layer zero sets (with ``weight [K, in]``, ``bias [K]`` of the first layer and the
    ``encoding`` in front of it) and the on/off maps ``{(layer, index): bool [H, W]}`` of
    chosen hidden neurons (layer 0 = the first hidden layer), one panel each; a Figure."""
    on_maps = dict(on_maps or {})
    if weight is None and not on_maps:
        raise ValueError("neuron_view: give the first layer (weight, bias) or on/off maps")
    shape = next(iter(on_maps.values())).shape if on_maps else None
    frame = grid_frame(grid, shape)
    panels = (weight is not None) + len(on_maps)
    ncols = min(panels, 3)
    nrows = math.ceil(panels / ncols)
    fig = new_figure(ncols * width, nrows * (width + 0.35) + 0.4)
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    i = 0
    if weight is not None:
        first = [idx for (layer, idx) in on_maps if layer == 0]
        draw_first_layer(axes[0], weight, bias, grid, frame, encoding, first)
        i = 1
    for (layer, idx), on in on_maps.items():
        draw_on_map(axes[i], on, frame, f"layer {layer + 1}, neuron {idx}")
        i += 1
    for ax in axes[i:]:
        ax.set_visible(False)
    fig.suptitle(f"{label + ': ' if label else ''}neurons on a {frame.text} "
                 "(blue: on, z > 0)", fontsize=9)
    return fig
