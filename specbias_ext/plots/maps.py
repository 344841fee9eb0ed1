"""Maps of a 2D grid (and the local complexity along a 1D one), each a
``matplotlib.figure.Figure`` from arrays (nothing is recomputed):

- ``region_map``: every region in the colour of its activation pattern (``colours``), region
  boundaries darkened, axes in coordinate units, the count with its grid and saturation, and
  optional overlays (a target image, a zero level set, points);
- ``hamming_map``: the Hamming distance from each point to its next neighbour along each axis
  and their sum, the map that stays readable when every point is a region of its own;
- ``boundary_distance_map`` (log scale), ``slope_map`` (||grad_x f|| per point, constant inside
  a region for raw coordinates), ``grad_norm_map`` (||df/dtheta|| per point) and
  ``coherence_map`` (each region's gradient coherence painted over its points);
- ``local_complexity_map``: the number of neurons whose boundary passes within a radius of
  each point (docs/local_complexity.md); ``local_complexity_line`` draws the same count along a
  1D grid.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import MaxNLocator

from .colours import palette_index, palette_uint8
from .frame import (PANEL_WIDTH, SATURATION_NOTE, GridFrame, add_note, count_text, grid_frame,
                    is_saturated, new_figure, style_axes)

#: Boundaries are drawn when regions average at least this many points (else they would cover
#: the map; the neighbour-Hamming map shows them then).
MIN_POINTS_PER_REGION_FOR_BOUNDARIES = 20
BOUNDARY_SHADE = 0.3


def _as_ids(ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids: expected integer region ids [H, W], got {ids.dtype} "
                         f"{list(ids.shape)}")
    return ids


def boundary_mask(ids: np.ndarray) -> np.ndarray:
    """``bool [H, W]``: points whose next neighbour down or right is in another region."""
    edge = np.zeros(ids.shape, dtype=bool)
    edge[:-1, :] |= ids[:-1, :] != ids[1:, :]
    edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    return edge


def region_image(ids, keys=None, boundaries: Optional[bool] = None) -> np.ndarray:
    """``uint8 [H, W, 3]`` (sRGB): each point in its region's pattern colour (``keys [R]``: the
    pattern key of region r = 0..R-1; None: colours from the ids, which are NOT comparable
    between maps), boundary points darkened (``boundaries`` None: when regions average
    ``MIN_POINTS_PER_REGION_FOR_BOUNDARIES`` points or more)."""
    ids = _as_ids(ids)
    regions = int(ids.max()) + 1 if ids.size else 0
    if keys is not None:
        keys = np.asarray(keys)
        if keys.ndim != 1 or keys.shape[0] < regions:
            raise ValueError(f"keys: expected one pattern key per region ({regions}), got "
                             f"shape {list(keys.shape)}")
    entry = palette_index(np.arange(regions, dtype=np.int64) if keys is None else keys)
    # two flat gathers (region -> palette entry -> colour): much faster than fancy indexing
    img = np.take(palette_uint8(), np.take(entry, ids.reshape(-1)), axis=0)
    img = img.reshape(ids.shape + (3,))
    if boundaries is None:
        boundaries = ids.size >= MIN_POINTS_PER_REGION_FOR_BOUNDARIES * max(regions, 1)
    if boundaries:
        edge = boundary_mask(ids)
        img[edge] = (img[edge] * BOUNDARY_SHADE).astype(np.uint8)
    return img


def draw_region_map(ax, ids, keys, frame: GridFrame, title: str = "", *, target=None,
                    target_alpha: float = 0.45, level_set=None, points=None,
                    boundaries: Optional[bool] = None):
    """Draw a region map into ``ax`` (see ``region_map``); returns the image artist."""
    im = ax.imshow(region_image(ids, keys, boundaries), extent=frame.extent,
                   interpolation="nearest", aspect="equal")
    if target is not None:
        t = np.asarray(target, dtype=np.float32)
        if t.shape[:2] != tuple(frame.shape):
            raise ValueError(f"target: expected an image on the {frame.shape} grid, got shape "
                             f"{list(t.shape)}")
        if t.ndim == 3 and t.shape[2] == 1:
            t = t[:, :, 0]
        ax.imshow(t, extent=frame.extent, cmap="gray", alpha=target_alpha,
                  interpolation="nearest", aspect="equal")
    if level_set is not None:
        v = np.asarray(level_set, dtype=np.float64)
        if v.shape != tuple(frame.shape):
            raise ValueError(f"level_set: expected values on the {frame.shape} grid, got "
                             f"shape {list(v.shape)}")
        ax.contour(frame.centres(1), frame.centres(0), v, levels=[0.0], colors="k",
                   linewidths=1.2)
    if points is not None:
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"points: expected coordinates [K, 2] (x0, x1), got shape "
                             f"{list(p.shape)}")
        ax.scatter(p[:, 1], p[:, 0], s=6, c="k", marker="o", linewidths=0)
    ax.set_xlim(frame.extent[0], frame.extent[1])
    ax.set_ylim(frame.extent[2], frame.extent[3])
    style_axes(ax, frame)
    ax.set_title(title, fontsize=8)
    return im


def map_title(label: str, count: int, frame: GridFrame, saturation: float) -> str:
    head = f"{label}\n" if label else ""
    return f"{head}{count_text(count, frame.points, saturation)} on a {frame.text}"


def region_map(ids, keys=None, *, grid: Optional[dict] = None, label: str = "",
               count: Optional[int] = None, saturation: float = 0.5, target=None,
               target_alpha: float = 0.45, level_set=None, points=None,
               boundaries: Optional[bool] = None, width: float = PANEL_WIDTH):
    """The region map of ``ids [H, W]`` (region ids 0..R-1 on the grid ``grid``).

    Args:
        keys: ``[R]`` pattern key of each region (``measure.region_keys``), so colours follow
            the pattern, stable across maps; None colours by id (not comparable between maps).
        grid: the grid's description (``plots.frame``); default [0, 1)^2.
        label: the network and encoding, first line of the title.
        count: the region count shown (default R); written ``>= R (saturated)`` when it is
            above ``saturation`` of the grid's points, with a note under the map.
        target: an image ``[H, W]`` / ``[H, W, C]`` drawn over the map in grey.
        level_set: values ``[H, W]`` whose zero level set (an SDF's surface) is drawn.
        points: coordinates ``[K, 2]`` (x0, x1) drawn as dots.
        boundaries: darken the points next to another region (default: when regions average
            20 points or more).
    Returns:
        a Figure.
    """
    ids = _as_ids(ids)
    frame = grid_frame(grid, ids.shape)
    count = int(ids.max()) + 1 if count is None and ids.size else int(count or 0)
    fig = new_figure(width, width * 0.92 + 0.45)
    ax = fig.add_subplot()
    draw_region_map(ax, ids, keys, frame, map_title(label, count, frame, saturation),
                    target=target, target_alpha=target_alpha, level_set=level_set,
                    points=points, boundaries=boundaries)
    notes = []
    if keys is None:
        notes.append("colours by region id (no pattern keys saved): not comparable between maps")
    if is_saturated(count, frame.points, saturation):
        notes.append(SATURATION_NOTE)
    if notes:
        add_note(fig, "; ".join(notes))
    return fig


def _heat(fig, ax, values, frame: GridFrame, title: str, label: str, cmap: str, norm=None,
          extend: str = "neither"):
    im = ax.imshow(np.ma.masked_invalid(values), extent=frame.extent,
                   cmap=colormaps[cmap].with_extremes(bad="0.85"), norm=norm,
                   interpolation="nearest", aspect="equal")
    style_axes(ax, frame, title)
    bar = fig.colorbar(im, ax=ax, shrink=0.8, extend=extend)
    bar.set_label(label, fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return im


def hamming_map(neighbours: Sequence, *, grid: Optional[dict] = None, label: str = "",
                cmap: str = "magma", width: float = PANEL_WIDTH):
    """The Hamming distance between each point's pattern and its next neighbour's, per axis
    and summed.

    Args:
        neighbours: ``[d0, d1]`` as ``ops.hamming_neighbors`` gives them for an ``(H, W)`` grid:
            ``d0 [H-1, W]`` to the point below, ``d1 [H, W-1]`` to the point on the right.
        grid, label: as for ``region_map``; cmap: a matplotlib colormap name.
    Returns:
        a Figure of three panels (axis 0, axis 1, sum), each with a colourbar in bits.
    """
    if len(neighbours) != 2:
        raise ValueError(f"neighbours: expected [d0, d1] of a 2D grid, got {len(neighbours)} "
                         "arrays")
    d0, d1 = (np.asarray(d, dtype=np.float32) for d in neighbours)
    h, w = d0.shape[0] + 1, d1.shape[1] + 1
    if d0.shape != (h - 1, w) or d1.shape != (h, w - 1):
        raise ValueError(f"neighbours: expected d0 [H-1, W] and d1 [H, W-1], got "
                         f"{list(d0.shape)} and {list(d1.shape)}")
    frame = grid_frame(grid, (h, w))
    down = np.full((h, w), np.nan, dtype=np.float32)
    down[:-1] = d0
    right = np.full((h, w), np.nan, dtype=np.float32)
    right[:, :-1] = d1
    total = np.nan_to_num(down) + np.nan_to_num(right)
    total[-1, -1] = np.nan
    top = float(max(np.nanmax(down, initial=0.0), np.nanmax(right, initial=0.0), 1.0))
    fig = new_figure(3 * width * 0.95, width * 0.95 + 0.55)
    axes = fig.subplots(1, 3)
    for ax, values, title, vmax in (
            (axes[0], down, "to the next point along x0 (down)", top),
            (axes[1], right, "to the next point along x1 (right)", top),
            (axes[2], total, "sum of both", float(np.nanmax(total, initial=0.0)) or 1.0)):
        _heat(fig, ax, values, frame, title, "Hamming distance (bits)", cmap,
              Normalize(0.0, vmax))
    fig.suptitle(f"{label + ': ' if label else ''}neighbour Hamming distance on a {frame.text}",
                 fontsize=9)
    return fig


def _one_map(values, grid, title: str, cbar: str, cmap: str, norm, width: float,
             extend: str = "neither", note: str = ""):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values: expected a 2D map [H, W], got shape {list(values.shape)}")
    frame = grid_frame(grid, values.shape)
    fig = new_figure(width * 1.2, width * 0.92 + 0.45)
    ax = fig.add_subplot()
    _heat(fig, ax, values, frame, f"{title}\non a {frame.text}", cbar, cmap, norm, extend)
    if note:
        add_note(fig, note)
    return fig


def _robust_top(values: np.ndarray, q: float = 99.5) -> tuple[float, str]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0, "neither"
    top = float(np.percentile(finite, q))
    return (top if top > 0 else float(finite.max()) or 1.0), \
        ("max" if finite.max() > top else "neither")


def boundary_distance_map(distance, *, grid: Optional[dict] = None, label: str = "",
                          cmap: str = "viridis", width: float = PANEL_WIDTH):
    """First-order distance from each point to the nearest region boundary, in coordinate
    units, on a log colour scale (``inf``: no neuron changes sign along any direction, grey)."""
    d = np.asarray(distance, dtype=np.float64)
    finite = d[np.isfinite(d) & (d > 0)]
    # the colour range spans the 1st percentile to the maximum: the few points that sit almost
    # on a boundary would otherwise stretch the scale over decades nobody reads
    lo = float(np.percentile(finite, 1.0)) if finite.size else 1e-6
    hi = float(finite.max()) if finite.size else 1.0
    shown = np.where(np.isfinite(d), np.maximum(d, lo), np.nan)
    none = int((~np.isfinite(d)).sum())
    note = f"grey: {none} points with no boundary in reach (infinite distance)" if none else ""
    return _one_map(shown, grid, f"{label + ': ' if label else ''}distance to the nearest "
                    "boundary", "distance (coordinate units, log scale)", cmap,
                    LogNorm(lo, max(hi, lo * 1.0001)), width,
                    "min" if finite.size and finite.min() < lo else "neither", note)


def slope_map(slope, *, grid: Optional[dict] = None, label: str = "", cmap: str = "viridis",
              width: float = PANEL_WIDTH):
    """``||grad_x f||`` per point (the network output's slope in coordinate space; constant
    inside a region for raw coordinates, so it shows the regions' linear pieces)."""
    s = np.asarray(slope, dtype=np.float64)
    top, extend = _robust_top(s)
    return _one_map(s, grid, f"{label + ': ' if label else ''}coordinate slope ||grad_x f||",
                    "||grad_x f|| (output per coordinate unit)", cmap, Normalize(0.0, top),
                    width, extend)


def grad_norm_map(norms, *, grid: Optional[dict] = None, label: str = "",
                  cmap: str = "viridis", width: float = PANEL_WIDTH):
    """``||d f / d theta||`` per point (the per-example gradient over all parameters)."""
    g = np.asarray(norms, dtype=np.float64)
    top, extend = _robust_top(g)
    return _one_map(g, grid, f"{label + ': ' if label else ''}parameter-gradient norm per point",
                    "||df/dtheta||", cmap, Normalize(0.0, top), width, extend)


def coherence_map(coherence, ids, *, grid: Optional[dict] = None, label: str = "",
                  cmap: str = "cividis", width: float = PANEL_WIDTH):
    """Each region's gradient coherence ``||sum_i g_i|| / sum_i ||g_i||`` (``coherence [R]``)
    painted over its points ``ids [H, W]``; a one-point region has coherence 1."""
    ids = _as_ids(ids)
    c = np.asarray(coherence, dtype=np.float64)
    if c.ndim != 1 or (ids.size and c.shape[0] <= int(ids.max())):
        raise ValueError(f"coherence: expected one value per region ({int(ids.max()) + 1}), "
                         f"got shape {list(c.shape)}")
    singles = np.bincount(ids.reshape(-1), minlength=c.shape[0]) == 1
    shown = np.where(singles[ids], np.nan, c[ids])
    multi = c[~singles]
    # the scale starts at the lowest coherence of a region of two or more points (rounded down
    # to 3 decimals): coherences crowd just below 1 and a [0, 1] scale would show one colour
    lo = float(np.floor(multi.min() * 1000) / 1000) if multi.size else 0.0
    lo = min(lo, 0.999)
    note = (f"grey: the {int(singles.sum())} of {c.shape[0]} regions that hold one point "
            "(coherence 1 by definition)") if singles.any() else ""
    return _one_map(shown, grid, f"{label + ': ' if label else ''}region gradient coherence",
                    "||sum g|| / sum ||g|| over the point's region", cmap, Normalize(lo, 1.0),
                    width, note=note)


def _lc_totals(counts, dims: int) -> np.ndarray:
    """int64 totals of ``counts`` on a ``dims``-D grid: the counts themselves, or their sum
    over a last axis of hidden layers."""
    c = np.asarray(counts)
    if c.dtype.kind not in "iu" or c.ndim not in (dims, dims + 1):
        grid = "[H, W]" if dims == 2 else "[N]"
        layers = "[H, W, L]" if dims == 2 else "[N, L]"
        raise ValueError(f"counts: expected integer counts {grid} or {layers}, got {c.dtype} "
                         f"{list(c.shape)}")
    return c.sum(axis=dims, dtype=np.int64) if c.ndim == dims + 1 else c.astype(np.int64)


def _lc_title(label: str, radius: float, method: str, total: np.ndarray) -> str:
    """What a local-complexity figure was measured with, and its mean and largest count."""
    top = int(total.max()) if total.size else 0
    mean = float(total.mean()) if total.size else 0.0
    how = "first-order" if method == "first_order" else "sampled"
    return (f"{label + ': ' if label else ''}local complexity ({how}, r = {radius:.3g})\n"
            f"mean {mean:.3g}, max {top} neurons per point")


#: The colourbar (2D) and y axis (1D) label of the local complexity.
LC_UNITS = "neurons with a boundary within r"


def local_complexity_map(counts, *, radius: float, method: str = "sampled",
                         grid: Optional[dict] = None, label: str = "", cmap: str = "magma",
                         width: float = PANEL_WIDTH):
    """The local complexity of every point of a 2D grid: the neurons whose boundary passes
    within ``radius`` (coordinate units) of it, all hidden layers together.

    Args:
        counts: ``[H, W]`` totals or ``[H, W, L]`` per-layer counts (summed here), as
            ``measure.local_complexity`` or the grid analysis give them.
        radius, method: what they were measured with ("sampled" or "first_order"), for the
            title.
        grid, label: as for ``region_map``; cmap: a matplotlib colormap name.
    Returns:
        a Figure: the map on a colour scale from 0 to the largest count, titled with the mean
        and largest count.
    """
    total = _lc_totals(counts, 2)
    top = int(total.max()) if total.size else 0
    return _one_map(total, grid, _lc_title(label, radius, method, total), LC_UNITS, cmap,
                    Normalize(0.0, max(top, 1)), width)


def local_complexity_line(counts, *, radius: float, method: str = "sampled",
                          grid: Optional[dict] = None, label: str = "", colour: str = "C3",
                          width: float = 7.0):
    """``local_complexity_map`` on a 1D grid: the count of every point as a step line over the
    grid's coordinates (``counts [N]`` totals or ``[N, L]`` per layer, summed), titled like the
    map. A Figure."""
    total = _lc_totals(counts, 1)
    frame = grid_frame(grid, total.shape)
    # each point's count holds from its coordinate to the next point's (the last one's to the
    # grid's end), as the 2D map's pixels do
    edges = np.append(frame.centres(0), frame.extent[1])
    held = np.append(total, total[-1:])
    fig = new_figure(width, 2.6)
    ax = fig.add_subplot()
    ax.fill_between(edges, held, step="post", color=colour, alpha=0.25, lw=0)
    ax.step(edges, held, where="post", color=colour, lw=0.9)
    ax.set_xlim(frame.extent[0], frame.extent[1])
    ax.set_ylim(0, max(int(total.max()) if total.size else 0, 1) * 1.05)
    ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax.set_xlabel(frame.xlabel, fontsize=8)
    ax.set_ylabel(LC_UNITS, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.2, lw=0.5)
    ax.set_title(f"{_lc_title(label, radius, method, total)} on a {frame.text}", fontsize=8,
                 loc="left")
    return fig
