"""Regions over training: the region maps of every record as a panel grid, and as an animation
(GIF, MP4 with ffmpeg), in the pattern colours, so a region keeps its colour from record to
record for as long as its pattern lives."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from .frame import PANEL_WIDTH, add_note, count_text, grid_frame, is_saturated, new_figure
from .maps import draw_region_map, region_image
from .output import save_animation


@dataclass(frozen=True)
class RegionRecord:
    """One record's region map: ``ids [H, W]``, ``keys [R]`` (pattern key of each region, or
    None), at ``step``."""

    step: int
    ids: np.ndarray
    keys: Optional[np.ndarray] = None

    @property
    def count(self) -> int:
        return int(self.ids.max()) + 1 if self.ids.size else 0


def _check(records: Sequence[RegionRecord]) -> list[RegionRecord]:
    records = list(records)
    if not records:
        raise ValueError("records: no region maps to draw")
    shapes = {tuple(np.shape(r.ids)) for r in records}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"records: expected 2D region maps of one shape, got {sorted(shapes)}")
    return records


def _notes(records, frame, saturation) -> str:
    notes = []
    if any(r.keys is None for r in records):
        notes.append("colours by region id (no pattern keys saved): a colour does not follow "
                     "its region between records")
    else:
        notes.append("a region keeps its colour (a function of its activation pattern) in "
                     "every record")
    if any(is_saturated(r.count, frame.points, saturation) for r in records):
        notes.append("'>=' marks saturated counts (most points alone in their region: a lower "
                     "bound; analyse on a finer grid)")
    return "; ".join(notes)


def region_maps_over_training(records: Sequence[RegionRecord], *, grid: Optional[dict] = None,
                              label: str = "", step_name: str = "epoch",
                              ncols: Optional[int] = None, saturation: float = 0.5,
                              width: float = 7.0):
    """A panel grid of the region maps of ``records`` (``RegionRecord``, in order), one panel per
    record titled with its step and count; ``width`` in inches (7: a paper's full width)."""
    records = _check(records)
    frame = grid_frame(grid, np.shape(records[0].ids))
    n = len(records)
    ncols = ncols or min(n, 5)
    nrows = math.ceil(n / ncols)
    panel = width / ncols
    fig = new_figure(width, nrows * (panel + 0.3) + 0.9)
    grid_axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    axes = grid_axes.reshape(-1)
    for k, (ax, r) in enumerate(zip(axes, records)):
        count = count_text(r.count, frame.points, saturation).replace(" (saturated)", "")
        draw_region_map(ax, r.ids, r.keys, frame, f"{step_name} {r.step}\n{count}")
        ax.title.set_fontsize(7)
        ax.tick_params(labelsize=6)
        if k % ncols:
            ax.set_ylabel("")
        if k < n - ncols:
            ax.set_xlabel("")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{label + ': ' if label else ''}region maps over training on a {frame.text}",
                 fontsize=9)
    add_note(fig, _notes(records, frame, saturation))
    return fig


def write_region_animation(records: Sequence[RegionRecord], stem: str, *,
                           grid: Optional[dict] = None, label: str = "",
                           step_name: str = "epoch", formats: Sequence[str] = ("gif",),
                           fps: float = 3.0, dpi: int = 100, saturation: float = 0.5,
                           width: float = PANEL_WIDTH * 1.15,
                           overwrite: bool = True) -> list[str]:
    """The region maps of ``records`` as an animation, one frame per record, written to
    ``stem.gif`` (and ``stem.mp4`` with ffmpeg); returns the paths."""
    return write_region_animation_panels({label: (records, grid)}, stem, step_name=step_name,
                                         formats=formats, fps=fps, dpi=dpi,
                                         saturation=saturation, width=width,
                                         overwrite=overwrite)


def write_region_animation_panels(series: Mapping[str, tuple], stem: str, *,
                                  step_name: str = "epoch", formats: Sequence[str] = ("gif",),
                                  fps: float = 3.0, dpi: int = 100, saturation: float = 0.5,
                                  width: float = 2.6, overwrite: bool = True) -> list[str]:
    """Several models' region maps side by side as one animation: ``series`` maps a label to
    ``(records, grid)``, all with the same steps; frame k shows record k of each."""
    series = {label: (_check(recs), grid) for label, (recs, grid) in series.items()}
    if not series:
        raise ValueError("series: no region maps to draw")
    steps = [[r.step for r in recs] for recs, _ in series.values()]
    if any(s != steps[0] for s in steps):
        raise ValueError("series: every model needs records at the same steps")
    frames = len(steps[0])
    n = len(series)
    fig = new_figure(width * n, width * 1.02 + 0.95)
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    panels = []
    for ax, (label, (recs, grid)) in zip(axes, series.items()):
        frame = grid_frame(grid, np.shape(recs[0].ids))
        im = draw_region_map(ax, recs[0].ids, recs[0].keys, frame, "")
        panels.append((ax, im, label, recs, frame))
    all_records = [r for recs, _ in series.values() for r in recs]
    add_note(fig, _notes(all_records, panels[0][4], saturation))
    title = fig.suptitle("", fontsize=9)

    def draw(k: int) -> list:
        changed = [title]
        for ax, im, label, recs, frame in panels:
            r = recs[k]
            im.set_data(region_image(r.ids, r.keys))
            head = f"{label}\n" if label else ""
            ax.set_title(f"{head}{count_text(r.count, frame.points, saturation)}", fontsize=8)
            changed += [im, ax.title]
        grid_text = panels[0][4].text if n == 1 else "training grid"
        title.set_text(f"{step_name} {steps[0][k]} of {steps[0][-1]}: regions on the "
                       f"{grid_text}")
        return changed

    draw(0)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")    # the layout of frame 0, kept while the titles change
    return save_animation(fig, draw, frames, stem, formats, fps=fps, dpi=dpi,
                          overwrite=overwrite)
