"""The figures of a training run (a `specbias train` folder or a monitor folder), from what
the run saved: its records, the region ids (and pattern keys) of every record, the final fit.

``region_records`` reads the per-record region maps out of the arrays a run saved, and
``lc_values`` the per-record local complexity of every point (a run recorded with "lc");
``train_figures`` draws the fit (1D: over the target with the region boundaries; 2D: the
reconstruction beside the target), the last region map, the region maps over training, the
record curves and the last record's local complexity; ``write_region_animation``
(``plots.training``) animates the maps.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence

import numpy as np

from .curves import record_curves, training_curves
from .fits import fit_1d, reconstruction_2d
from .frame import count_text, grid_frame, new_figure
from .maps import local_complexity_line, local_complexity_map, region_image, region_map
from .training import RegionRecord, region_maps_over_training

_ARRAY_KEY = re.compile(r"^(.*)region_ids_([a-z])(\d+)$")
_LC_KEY = re.compile(r"^lc_([a-z])(\d+)$")
#: At most this many panels in the panel grid of region maps (records evenly spread).
MAX_PANELS = 15
#: The stem a run's animation of its region maps over training is written under.
ANIMATION_STEM = "regions_over_training"


def region_records(arrays: Mapping, prefix: str = "") -> list[RegionRecord]:
    """The region maps in a run's arrays (``<prefix>region_ids_<s><step:06d>`` and, when
    saved, ``<prefix>region_keys_<s><step>``; ``<s>`` the step name's initial), by step."""
    out = []
    for name in arrays:
        m = _ARRAY_KEY.match(name)
        if m and m.group(1) == prefix:
            keys = arrays.get(f"{prefix}region_keys_{m.group(2)}{m.group(3)}")
            out.append(RegionRecord(int(m.group(3)), np.asarray(arrays[name]),
                                    None if keys is None else np.asarray(keys)))
    return sorted(out, key=lambda r: r.step)


def lc_values(arrays: Mapping) -> dict[int, np.ndarray]:
    """``{step: counts}``: every point's local complexity per record in a run's arrays
    (``lc_<s><step:06d>``, the totals the monitor keeps with ``save_lc_values``)."""
    return {int(m.group(2)): np.asarray(arrays[name])
            for name, m in ((n, _LC_KEY.match(n)) for n in arrays) if m}


def last_lc_record(records: Sequence[dict], lc: Mapping[int, np.ndarray],
                   step_name: str = "epoch") -> Optional[dict]:
    """The last record that holds a local-complexity summary whose values are in ``lc`` on a
    1D or 2D grid (None when there is none): the record the LC figure of ``train_figures``
    shows."""
    return next((r for r in reversed(list(records))
                 if isinstance(r.get("lc"), dict) and r.get(step_name) in lc
                 and np.ndim(lc[r[step_name]]) in (1, 2)), None)


def region_prefixes(arrays: Mapping) -> list[str]:
    """The distinct prefixes of the region maps in ``arrays`` (one per model of a folder)."""
    return sorted({m.group(1) for m in map(_ARRAY_KEY.match, arrays) if m})


def spread(records: Sequence, most: int) -> list:
    """At most ``most`` of ``records``, evenly spread, always with the first and the last."""
    records = list(records)
    if len(records) <= most:
        return records
    picks = np.unique(np.round(np.linspace(0, len(records) - 1, most)).astype(int))
    return [records[i] for i in picks]


def regions_over_training_1d(records: Sequence[RegionRecord], *, grid: Optional[dict] = None,
                             label: str = "", step_name: str = "epoch", width: float = 7.0):
    """1D regions over training as one image: a row per record, each point in its region's
    pattern colour (boundaries darkened where regions are wide enough), steps on the y axis."""
    records = list(records)
    if not records:
        raise ValueError("records: no region maps to draw")
    frame = grid_frame(grid, np.shape(records[0].ids))
    rows = np.stack([region_image(np.asarray(r.ids).reshape(1, -1), r.keys)[0]
                     for r in records])
    fig = new_figure(width, min(1.2 + 0.22 * len(records), 6.0))
    ax = fig.add_subplot()
    steps = [r.step for r in records]
    ax.imshow(rows, aspect="auto", interpolation="nearest",
              extent=(frame.extent[0], frame.extent[1], len(records) - 0.5, -0.5))
    tick = max(1, len(records) // 8)
    ax.set_yticks(range(0, len(records), tick))
    ax.set_yticklabels([str(s) for s in steps[::tick]], fontsize=7)
    ax.set_ylabel(step_name, fontsize=8)
    ax.set_xlabel(frame.xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    last = records[-1]
    ax.set_title(f"{label + ': ' if label else ''}regions over training on a {frame.text}\n"
                 f"last record: {count_text(last.count, frame.points)}; each colour is one "
                 "activation pattern", fontsize=8)
    return fig


def train_figures(*, grid: Optional[dict], label: str, records: Sequence[dict],
                  regions: Sequence[RegionRecord], fit=None, target=None,
                  step_name: str = "epoch", loss: Sequence[float] = (),
                  fit_figure: bool = True,
                  lc: Optional[Mapping[int, np.ndarray]] = None) -> dict:
    """``{name: Figure}`` of a run: "loss" (the loss per step with the records' MSE and PSNR),
    "fit", "region_map", "region_maps_over_training", "curves"
    (``plots.curves.record_curves`` of the records, with its LC panel when the records hold
    "lc") and "lc_map", each when its data is there. "lc_map" is the local complexity of
    every point at ``last_lc_record`` (``lc``: ``lc_values`` of the run's arrays), with the
    radius and method of that record's summary: a heat map on a 2D grid
    (``local_complexity_map``), a step line over the coordinates on a 1D one
    (``local_complexity_line``). ``grid`` may be None when there is neither a fit, region
    maps nor LC values; ``fit_figure=False`` leaves out the 1D "fit" figure a run without a
    saved fit would draw from its regions alone."""
    figs = {}
    if len(loss):
        figs["loss"] = training_curves(loss, list(records), step_name=step_name)
    if regions or fit is not None:
        figs.update(_map_figures(grid, label, records, regions, fit, target, step_name,
                                 fit_figure))
    if records:
        figs["curves"] = record_curves(list(records), step_name=step_name)
    last_lc = last_lc_record(records, lc or {}, step_name)
    if last_lc is not None:
        figs["lc_map"] = _lc_figure(grid, label, last_lc, lc[last_lc[step_name]], step_name)
    return figs


def _lc_figure(grid, label: str, record: dict, counts: np.ndarray, step_name: str):
    """The "lc_map" of ``train_figures``: ``counts`` of ``record`` on the grid's dimension."""
    summary = record["lc"]
    draw = local_complexity_map if np.ndim(counts) == 2 else local_complexity_line
    return draw(counts, radius=summary["radius"], method=summary["method"], grid=grid,
                label=f"{label + ', ' if label else ''}{step_name} {record[step_name]}")


def _map_figures(grid, label, records, regions, fit, target, step_name, fit_figure) -> dict:
    """The fit and region-map figures of ``train_figures``."""
    figs = {}
    frame = grid_frame(grid, None)
    last = regions[-1] if regions else None
    psnr = next((r["psnr"] for r in reversed(list(records)) if r.get("psnr") is not None), None)
    if len(frame.shape) == 1:
        if fit_figure and (fit is not None or last is not None):
            t = frame.extent[0] + (frame.extent[1] - frame.extent[0]) * \
                np.arange(frame.shape[0]) / frame.shape[0]
            figs["fit"] = fit_1d(t, fit, target, None if last is None else last.ids,
                                 label=label, grid=grid)
        if len(regions) > 1:
            figs["region_maps_over_training"] = regions_over_training_1d(
                regions, grid=grid, label=label, step_name=step_name)
    else:
        if fit is not None and target is not None:
            figs["fit"] = reconstruction_2d(fit, target, grid=grid, label=label, psnr=psnr)
        if last is not None:
            figs["region_map"] = region_map(last.ids, last.keys, grid=grid,
                                            label=f"{label + ', ' if label else ''}{step_name} {last.step}")
        if len(regions) > 1:
            figs["region_maps_over_training"] = region_maps_over_training(
                spread(regions, MAX_PANELS), grid=grid, label=label, step_name=step_name)
    return figs
