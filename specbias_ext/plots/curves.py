"""Curves of monitor records over training: a wrapped grid of labelled panels.

``record_curves(records)`` draws what a ``RegionMonitor`` (or the trainer's ``Recorder``) recorded,
one panel per quantity, titled and labelled in words with units: region counts with the grid
they were counted on and saturated counts marked (a saturated count is only a lower bound, the
rule of ``stats.grid_counts``), pair statistics with their 5-95 % range over the pairs, the
spectral residual with one line per frequency (band) in a legend, and, for records of several
seeds (a ``seed`` key), the mean over seeds with a min-max band. ``training_curves`` adds the
trainer's per-epoch loss. Figures use the object API (no pyplot state) and are about 7 in wide
(a paper's full width, readable on a slide).
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from ..stats.grid_counts import DEFAULT_SATURATION, GridCount

_STYLE = {"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7,
          "ytick.labelsize": 7, "legend.fontsize": 6.5, "legend.title_fontsize": 6.5}
_SATURATED_COLOUR = "#d62728"
_LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
_TITLE_CHARS_PER_INCH = 15  # a panel title wraps beyond this many characters per inch
_LEGEND_DROP_PT = 30      # a legend's top under its panel: tick labels + x label
_LOG_SPAN = 20.0           # a log axis only for values spanning more than this factor
SATURATION_NOTE = ("\u25b2 saturated count{where}: more regions than half of the {points} points, "
                   "so most points sit alone in their region and the count is only a lower "
                   "bound (\u2265); analyse the model on a finer grid (specbias analyze --grid) "
                   "to resolve the regions.")


@dataclass(frozen=True)
class Line:
    key: str          # dotted record key, e.g. "hamming_local.mean" (list items by index)
    label: str


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    lines: tuple[Line, ...]
    log: bool = False
    spread_of: str = "pairs"    # what the 5-95 % band of a summary's mean spans
    counts: bool = False        # whole numbers: integer ticks


PANELS: dict[str, Panel] = {
    "regions": Panel("linear regions", "regions (distinct patterns)",
                     (Line("regions", "regions"),), log=True, counts=True),
    "loss": Panel("fit error", "MSE", (Line("loss", "on the monitored points"),
                                       Line("train_loss", "training, mean of the epoch")),
                  log=True),
    "psnr": Panel("PSNR of the fit", "PSNR (dB)", (Line("psnr", "PSNR"),)),
    "hamming": Panel("Hamming distance of pairs", "neurons that differ",
                     (Line("hamming_local.mean", "local pairs"),
                      Line("hamming_global.mean", "global pairs"))),
    "confusion": Panel("gradient confusion of pairs", "cosine of the two gradients",
                       (Line("confusion_local.mean", "local pairs"),
                        Line("confusion_global.mean", "global pairs"))),
    "spectral": Panel("spectral residual", "residual / target", (), log=True),
    "neurons": Panel("dead and always-on neurons", "neurons",
                     (Line("dead_neurons", "dead (never on)"),
                      Line("always_on_neurons", "always on")), counts=True),
    "grad_norm": Panel("per-example gradient norm", "\u2016\u2207\u03b8 loss\u2016",
                       (Line("grad_norm.mean", "mean over points"),), log=True,
                       spread_of="points"),
    "coherence": Panel("gradient coherence in regions", "coherence (0 to 1)",
                       (Line("region_coherence_weighted", "size-weighted mean"),
                        Line("region_coherence_multi.mean", "mean, regions \u2265 2 points")),
                       spread_of="regions"),
    "boundaries": Panel("neighbours across a boundary", "share of neighbour pairs",
                        (Line("neighbor_boundary_frac", "neighbour pairs"),)),
    "largest_region": Panel("largest region", "share of the points",
                            (Line("largest_region_frac", "largest region"),)),
    "record_seconds": Panel("time per record", "seconds", (Line("record_seconds", "record"),)),
}
#: The panels drawn by default, those with data in the records.
DEFAULT_PANELS = ("regions", "loss", "psnr", "hamming", "confusion", "spectral", "neurons",
                  "grad_norm", "coherence")
_ALIASES = {"spectral_residual": "spectral", "band_residual": "spectral",
            "dead_neurons": "neurons", "always_on_neurons": "neurons", "train_loss": "loss",
            "neighbor_boundary_frac": "boundaries", "largest_region_frac": "largest_region"}
_STATS = {"mean": "mean", "std": "standard deviation", "min": "minimum", "max": "maximum",
          "median": "median", "q05": "5th percentile", "q95": "95th percentile"}


def _value(rec: dict, key: str) -> Any:
    value: Any = rec
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _panel_for(key: str) -> Panel:
    """The panel of a panel name, a record key or a dotted key (labelled in words)."""
    name = _ALIASES.get(key, key)
    if name in PANELS:
        return PANELS[name]
    for panel in PANELS.values():
        for line in panel.lines:
            if line.key == key:
                return replace(panel, title=f"{panel.title}: {line.label}", lines=(line,))
    base, _, stat = key.rpartition(".")
    for panel in PANELS.values():
        for line in panel.lines:
            if base and line.key.rpartition(".")[0] == base and stat in _STATS:
                return replace(panel, title=f"{panel.title}: {line.label}, {_STATS[stat]}",
                               lines=(Line(key, _STATS[stat]),))
    words = key.replace("_", " ").replace(".", ", ")
    return Panel(words, key.rpartition(".")[2].replace("_", " "), (Line(key, words),))


def grid_phrase(shape: Optional[Sequence[int]], points: int) -> str:
    """Where a count comes from: ``"the 64x64 grid"``, ``"the 256-point grid"`` (1D) or
    ``"300 scattered points"``."""
    if shape and len(shape) == 1:
        return f"the {int(shape[0])}-point grid"
    if shape:
        return f"the {'x'.join(str(int(s)) for s in shape)} grid"
    return f"{points} scattered points"


def _seeds(records: Sequence[dict]) -> list:
    seeds = sorted({r["seed"] for r in records if "seed" in r}, key=str)
    return seeds if len(seeds) > 1 else []


def _by_step(records, key: str, step_name: str) -> dict[float, list[float]]:
    out: dict[float, list[float]] = {}
    for r in records:
        v = _number(_value(r, key))
        if step_name in r and not math.isnan(v):
            out.setdefault(float(r[step_name]), []).append(v)
    return out


def _series(records: Sequence[dict], key: str, step_name: str, seeds: list
            ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """``(steps, values, spread [2, T] or None)``: over seeds the mean and its min-max; else
    the values and the 5-95 % range of a summary key (``x.mean`` with ``x.q05``/``x.q95``)."""
    if seeds:
        by_step = _by_step(records, key, step_name)
        steps = np.array(sorted(by_step))
        vals = [np.array(by_step[s]) for s in steps]
        spread = np.array([[v.min() for v in vals], [v.max() for v in vals]])
        return steps, np.array([v.mean() for v in vals]), spread
    rows = [r for r in records if step_name in r and _value(r, key) is not None]
    steps = np.array([r[step_name] for r in rows], dtype=float)
    values = np.array([_number(_value(r, key)) for r in rows])
    spread = None
    base, _, stat = key.rpartition(".")
    if stat == "mean" and rows and all(isinstance(_value(r, base), dict) for r in rows):
        lo = np.array([_number(_value(r, f"{base}.q05")) for r in rows])
        hi = np.array([_number(_value(r, f"{base}.q95")) for r in rows])
        if not (np.isnan(lo).all() or np.isnan(hi).all()):
            spread = np.stack([lo, hi])
    return steps, values, spread


def _draw_lines(ax, panel: Panel, records, step_name, seeds, colours=None) -> bool:
    drawn, band_labelled = False, bool(seeds)     # over seeds the figure's note says it
    for i, line in enumerate(panel.lines):
        colour = colours[i] if colours is not None else _LINE_COLOURS[i % len(_LINE_COLOURS)]
        steps, values, spread = _series(records, line.key, step_name, seeds)
        if not np.isfinite(values).any():
            continue
        ax.plot(steps, values, color=colour, lw=1.3, marker="." if len(steps) <= 40 else None,
                ms=3, label=line.label)
        if spread is not None:
            ax.fill_between(steps, spread[0], spread[1], color=colour, alpha=0.15, lw=0,
                            label=None if band_labelled else f"5\u201395 % of {panel.spread_of}")
            band_labelled = True
        drawn = True
    return drawn


def _draw_regions(ax, records, step_name, seeds) -> tuple[Optional[int], Optional[str]]:
    """The region panel; returns (points of a saturated count or None, grid phrase)."""
    rows = [r for r in records if isinstance(r.get("regions"), (int, float)) and step_name in r]
    _draw_lines(ax, PANELS["regions"], rows, step_name, seeds)
    grids = [r.get("regions_grid") or {} for r in rows]
    points = {g.get("points") for g in grids if g.get("points")}
    shapes = {tuple(g["shape"]) if g.get("shape") else None for g in grids if g.get("points")}
    phrase = None
    if len(points) == 1 and len(shapes) == 1:
        phrase = grid_phrase(next(iter(shapes)), next(iter(points)))
        ax.set_title(_wrap(ax, f"regions on {phrase}"))
    saturated = {float(r[step_name]): g["points"] for r, g in zip(rows, grids)
                 if g.get("points") and GridCount(int(r["regions"]), int(g["points"])).saturated}
    if saturated:
        steps, values, _ = _series(rows, "regions", step_name, seeds)
        marked = [(s, v) for s, v in zip(steps, values) if s in saturated]
        ax.plot([s for s, _ in marked], [v for _, v in marked], ls="none", marker="^", ms=6,
                mfc="none", mec=_SATURATED_COLOUR, mew=1.2, label="saturated (\u2265)")
    if len(points) == 1:
        ax.axhline(DEFAULT_SATURATION * next(iter(points)), color=_SATURATED_COLOUR, lw=0.8,
                   ls="--", label="\u00bd \u00d7 points")
    return (next(iter(saturated.values())) if saturated else None), phrase


def _spectral(records) -> tuple[str, list[Line], str]:
    """``(record key, a line per frequency, legend title)`` of the recorded spectral residual."""
    for rec in records:
        if isinstance(rec.get("spectral_residual"), list):
            freqs = rec.get("spectral_freqs") or range(len(rec["spectral_residual"]))
            return ("spectral_residual",
                    [Line(f"spectral_residual.{i}", f"k = {k}") for i, k in enumerate(freqs)],
                    "frequency k (cycles over the grid)")
        if isinstance(rec.get("band_residual"), list):
            edges = rec.get("band_cycles_per_sample")
            n = len(rec["band_residual"])
            labels = [f"{lo:.2f}\u2013{hi:.2f}" for lo, hi in edges] if edges else \
                [f"band {b + 1}" for b in range(n)]
            return ("band_residual", [Line(f"band_residual.{b}", labels[b]) for b in range(n)],
                    "radial frequency (cycles/pixel)" if edges else "radial band (low to high)")
    return "", [], ""


def _draw_spectral(ax, records, step_name, seeds) -> None:
    key, lines, legend_title = _spectral(records)
    cmap = matplotlib.colormaps["viridis"]
    colours = [cmap(0.9 * i / max(1, len(lines) - 1)) for i in range(len(lines))]
    _draw_lines(ax, Panel("", "", tuple(lines)), records, step_name, seeds, colours)
    one_d = key == "spectral_residual"
    ax.set_title(_wrap(ax, "spectral residual by frequency" if one_d
                       else "residual by frequency band"))
    ax.set_ylabel("|residual| / |target| at k" if one_d else "residual / target power")
    _legend(ax, title=legend_title, ncol=min(3 if ax.figure.get_figwidth() >= 5 else 2,
                                             len(lines)))


def _legend(ax, title: Optional[str] = None, ncol: int = 1) -> None:
    """Under the panel, so it never hides a curve (one column: a row of entries would run on
    into the next panel's)."""
    handles, labels = ax.get_legend_handles_labels()
    lines_first = sorted(range(len(handles)), key=lambda i: not isinstance(handles[i], Line2D))
    handles, labels = [handles[i] for i in lines_first], [labels[i] for i in lines_first]
    if len(handles) > 1 or title:
        # Its top sits a fixed distance under the axes (below the tick labels and the x label),
        # whatever the panel's size.
        below = offset_copy(ax.transAxes, ax.figure, y=-_LEGEND_DROP_PT, units="points")
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  bbox_transform=below, ncol=ncol, frameon=False, title=title,
                  handlelength=1.4, columnspacing=0.9, borderaxespad=0.0)


def _wrap(ax, title: str) -> str:
    """``title`` in lines that fit the panel's width."""
    inches = ax.figure.get_figwidth() / ax.get_subplotspec().get_gridspec().ncols
    return "\n".join(textwrap.wrap(title, max(12, int(_TITLE_CHARS_PER_INCH * inches)))) or title


def _scale(ax, panel: Panel) -> None:
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float)
                             for line in ax.get_lines()] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if panel.log and values.size and values.min() > 0 and \
            values.max() / values.min() > _LOG_SPAN:
        ax.set_yscale("log")
    elif panel.counts:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))


def _has_data(records, name: str) -> bool:
    if name == "spectral":
        return bool(_spectral(records)[0])
    return any(_value(r, line.key) is not None for r in records for line in PANELS[name].lines)


def record_curves(records: list[dict], keys: Optional[Sequence[str]] = None, *,
                  width: float = 7.0, step_name: str = "step") -> Figure:
    """A wrapped grid of labelled panels of ``records`` over ``step_name``.

    Args:
        records: monitor records (dicts as in records.jsonl or ``results.json["records"]``).
        keys: panels to draw: panel names (``"regions"``, ``"loss"``, ``"psnr"``,
            ``"hamming"``, ``"confusion"``, ``"spectral"``, ``"neurons"``, ``"grad_norm"``,
            ``"coherence"``, ``"boundaries"``, ``"largest_region"``, ``"record_seconds"``),
            record keys (``"band_residual"``) or dotted keys (``"hamming_local.q95"``).
            None: every default panel with data.
        width: figure width in inches (3 panels a row from 5 in, else 2).
        step_name: the records' step key (``"epoch"`` for the trainer's records).

    Returns:
        A matplotlib Figure (object API; save it with ``fig.savefig``).
    """
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        raise ValueError("records: nothing recorded yet to plot")
    if not any(step_name in r for r in records):
        raise ValueError(f"step_name: no record has the key {step_name!r} (the records' step "
                         f"key; the trainer's records use 'epoch')")
    if keys is None:
        names = [k for k in DEFAULT_PANELS if _has_data(records, k)]
    else:
        names = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in names if not (_has_data(records, _ALIASES.get(k, k))
                                            if _ALIASES.get(k, k) in PANELS
                                            else any(_value(r, k) is not None for r in records))]
        if missing:
            raise ValueError(f"keys: {missing} are in none of the records")
    if not names:
        raise ValueError("keys: the records hold none of the quantities this figure draws")
    ncols = min(len(names), 3 if width >= 5 else 2)
    nrows = math.ceil(len(names) / ncols)
    seeds = _seeds(records)
    notes = [f"Lines: mean of {len(seeds)} seeds; bands: min\u2013max over the seeds."] \
        if seeds else []
    with matplotlib.rc_context(_STYLE):
        row_height = min(2.8, max(2.3, width / ncols * 0.95))
        fig = Figure(figsize=(width, 0.4 + nrows * row_height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(names):]:
            ax.remove()
        for ax, name in zip(axes, names):
            panel = _panel_for(name)
            ax.set_title(_wrap(ax, panel.title))
            ax.set_ylabel(panel.ylabel)
            if panel is PANELS["spectral"]:
                _draw_spectral(ax, records, step_name, seeds)
            elif panel is PANELS["regions"]:
                saturated_points, _ = _draw_regions(ax, records, step_name, seeds)
                if saturated_points:
                    notes.append(SATURATION_NOTE.format(
                        points=saturated_points, where=" (in some seed)" if seeds else ""))
            else:
                _draw_lines(ax, panel, records, step_name, seeds)
            _scale(ax, panel)
            ax.set_xlabel(step_name)
            ax.grid(alpha=0.25, lw=0.5)
            if ax.get_legend() is None:
                _legend(ax)
        if notes:
            fig.supxlabel("\n".join(textwrap.fill(n, int(width * 21)) for n in notes),
                          fontsize=6.5,
                          color="0.3", x=0.0, ha="left")
    return fig


def training_curves(loss: Sequence[float], records: Sequence[dict] = (), *,
                    width: float = 7.0, step_name: str = "epoch") -> Figure:
    """The trainer's fit over epochs: its mean training loss per epoch (``loss[e]``, during
    epoch e + 1) with the records' MSE on the monitored points, and the records' PSNR.

    Args:
        loss: mean training loss of each epoch (``TrainResult.loss``).
        records: the monitor's records, keyed by ``step_name`` (epochs).
        width: figure width in inches.
        step_name: the records' step key (``"epoch"`` for the trainer's ``Recorder``).

    Returns:
        A matplotlib Figure.
    """
    merged = [{step_name: e + 1, "train_loss": float(v)} for e, v in enumerate(loss)]
    merged += [r for r in records if step_name in r]
    keys = ["loss"] + (["psnr"] if any("psnr" in r for r in merged) else [])
    return record_curves(merged, keys, width=width, step_name=step_name)
