"""What every map shares: a figure from the object API (no pyplot state), the grid's axes in
coordinate units, and region counts written with their grid and saturation.

Grids are described as ``CoordinateGrid.describe()`` / ``PlaneSlice.describe()`` give them
(``{"kind": "grid", "shape": [H, W], "coord_range": [lo, hi]}`` or ``{"kind": "plane", ...}``)
or as `specbias train` saves them (``{"grid_shape": ..., "coord_range": ...}``); ``{"kind": "index", "shape": ...}`` draws
in grid indices when the coordinates are not known. Maps are drawn
like the image they sample: row 0 at the top, axis 0 (rows, x0) down, axis 1 (columns, x1)
across; grid point n of an axis of size S over [lo, hi) sits at lo + (hi - lo) n / S.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..stats.grid_counts import DEFAULT_SATURATION, GridCount

#: Width of a one-panel figure in inches (a paper column is ~3.5 in, a slide ~10 in).
PANEL_WIDTH = 4.0


def new_figure(width: float, height: float) -> Figure:
    """A Figure with constrained layout (object API: no pyplot, nothing global)."""
    return Figure(figsize=(width, height), layout="constrained")


@dataclass(frozen=True)
class GridFrame:
    """The coordinate frame of a 1D or 2D grid: ``extent`` for ``imshow`` (left, right, bottom,
    top) with row 0 at the top, axis labels and a one-line description."""

    shape: tuple
    extent: tuple
    xlabel: str
    ylabel: str
    text: str

    @property
    def points(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    def centres(self, axis: int):
        """Coordinates of the grid points along ``axis`` (as drawn: pixel lower corners)."""
        size = self.shape[axis]
        if len(self.shape) == 1:
            lo, hi = self.extent[0], self.extent[1]
        elif axis == 0:
            lo, hi = self.extent[3], self.extent[2]
        else:
            lo, hi = self.extent[0], self.extent[1]
        return lo + (hi - lo) * np.arange(size) / size


def style_axes(ax, frame: "GridFrame", title: str = "") -> None:
    """Labels in the frame's words, at most 5 ticks an axis, small type (panels sit side by
    side)."""
    ax.set_xlabel(frame.xlabel, fontsize=8)
    ax.set_ylabel(frame.ylabel, fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=8)


def _range_text(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g})"


def grid_frame(grid: Optional[dict] = None, shape: Optional[Sequence[int]] = None) -> GridFrame:
    """The frame of ``grid`` (a description, see the module docstring); ``shape`` alone: the
    default box [0, 1) per axis."""
    grid = dict(grid or {})
    shape = tuple(int(s) for s in (grid.get("shape") or grid.get("grid_shape") or shape or ()))
    if len(shape) not in (1, 2):
        raise ValueError(f"grid: expected a 1D or 2D grid to draw, got shape {list(shape)}")
    size = "x".join(map(str, shape))
    if grid.get("kind") == "plane":     # distances along u (down) and v (across)
        o = ", ".join(f"{v:g}" for v in grid["origin"])
        lu, lv = (float(np.linalg.norm(grid[k])) for k in ("u", "v"))
        return GridFrame(shape, (0.0, lv, lu, 0.0), "along v (coordinate units)",
                         "along u (coordinate units)", f"{size} slice at ({o})")
    if grid.get("kind") == "index":       # coordinates unknown (a monitor's own points)
        if len(shape) == 1:
            return GridFrame(shape, (0.0, float(shape[0])), "point index", "", f"{size} points")
        return GridFrame(shape, (0.0, float(shape[1]), float(shape[0]), 0.0),
                         "column (grid index)", "row (grid index)", f"{size} grid")
    lo, hi = (float(v) for v in grid.get("coord_range", (0.0, 1.0)))
    if len(shape) == 1:
        return GridFrame(shape, (lo, hi), "x", "",
                         f"{size}-point grid on {_range_text(lo, hi)}")
    return GridFrame(shape, (lo, hi, hi, lo), "x1", "x0",
                     f"{size} grid on {_range_text(lo, hi)}\u00b2")


def count_text(count: int, points: int, saturation: float = DEFAULT_SATURATION) -> str:
    """``"123 regions"`` or ``">= 4096 regions (saturated)"`` (``stats.grid_counts`` rule)."""
    gc = GridCount(int(count), int(points), saturation)
    return f"{gc.display()} regions" + (" (saturated)" if gc.saturated else "")


def is_saturated(count: int, points: int, saturation: float = DEFAULT_SATURATION) -> bool:
    return GridCount(int(count), int(points), saturation).saturated


SATURATION_NOTE = ("saturated: most grid points are alone in their region, so the count is only "
                   "a lower bound; analyse on a finer grid, or read the neighbour-Hamming map")


def add_note(fig: Figure, text: str) -> None:
    """A small grey note under the panels (what a reader must know to read the figure)."""
    fig.get_layout_engine().set(h_pad=0.04)
    fig.supxlabel(text, fontsize=7, color="0.35", wrap=True)
