"""Monitor records read back without the model: series, tables, figures.

A monitor folder holds ``settings.json`` (how the records were taken), ``records.jsonl`` (one
record per line) and ``arrays/<step_name>_<step>.npz`` (see ``record_files``).
``MonitorRecords.load(folder)`` (also ``RegionMonitor.load``) reads them back; a live
``RegionMonitor`` exposes its history through the same class (``monitor.records``).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..plots.curves import grid_phrase, record_curves
from ..runs.files import atomic_write_bytes

PathLike = Union[str, os.PathLike]

SETTINGS = "settings.json"
RECORDS = "records.jsonl"
ARRAYS = "arrays"
FIGURE = "monitor.png"
TENSORBOARD = "tensorboard"
#: The per-frequency lists a table spreads into one column each.
_SPECTRAL = {"spectral_residual": "spectral_freqs", "band_residual": None}


def read_records(out: PathLike) -> list[dict[str, Any]]:
    """The records a monitor wrote to ``out`` (records.jsonl); [] when there are none yet."""
    path = Path(out) / RECORDS
    if not path.is_file():
        return []
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as err:
                    raise ValueError(f"out: {str(path)!r} line {number} is not a JSON record "
                                     f"({err})") from None
    return records


def read_settings(out: PathLike) -> Optional[dict[str, Any]]:
    path = Path(out) / SETTINGS
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"out: {str(path)!r} is not JSON ({err})") from None


def scalars(rec: dict, prefix: str = "") -> dict[str, Union[int, float]]:
    """The finite numeric scalars of a record by dotted key (nested dicts flattened), ints
    kept as ints."""
    out = {}
    for k, v in rec.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(scalars(v, name + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[name] = v
    return out


def record_count_text(rec: dict, hint: bool = False) -> str:
    """A record's region count as printed: ``"123"`` or ``">= 4096 (saturated)"``, with the
    grid it was counted on and, for a saturated count with ``hint``, what to do about it."""
    grid = rec.get("regions_grid") or {}
    text = grid.get("display", str(rec.get("regions", "?")))
    if grid.get("points"):
        text += f" on {grid_phrase(grid.get('shape'), grid['points'])}"
    if hint and grid.get("saturated"):
        text += " (a lower bound: analyse on a finer grid, e.g. specbias analyze --grid)"
    return text


class MonitorRecords:
    """Records of a monitor, live or read back: ``series``, ``to_table``, ``plot`` and, in a
    notebook, the main figure as the object's display (``_repr_png_``).

    ``records``: the record dicts; ``settings``: the monitor's settings (settings.json);
    ``folder``: where they are stored (None for a monitor without ``out``).
    """

    def __init__(self, records: list[dict[str, Any]], settings: Optional[dict] = None,
                 folder: Optional[PathLike] = None):
        self.records = records
        self.settings = dict(settings or {})
        self.folder = None if folder is None else Path(folder)

    @classmethod
    def load(cls, folder: PathLike) -> "MonitorRecords":
        """The records a monitor wrote to ``folder`` (no model needed)."""
        if folder is None or str(folder).strip() == "":
            raise ValueError("folder: expected a monitor's folder (its out=), got an empty path")
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"folder: {str(folder)!r} is not a folder; give the out= folder a "
                             "RegionMonitor wrote")
        if not (folder / RECORDS).is_file():
            raise ValueError(f"folder: {str(folder)!r} holds no monitor records ({RECORDS} "
                             "missing)")
        return cls(read_records(folder), read_settings(folder), folder)

    @property
    def step_name(self) -> str:
        return self.settings.get("step_name", "step")

    @property
    def notes(self) -> list[str]:
        """What the monitor left out and why (e.g. no grid: no neighbour statistics)."""
        return list(self.settings.get("notes", []))

    def __len__(self) -> int:
        return len(self.records)

    def series(self, key: str) -> tuple[list[int], list[Any]]:
        """``(steps, values)`` of one recorded quantity; nested keys with dots, e.g.
        ``series("hamming_local.mean")`` or ``series("regions")``."""
        steps, values = [], []
        for rec in self.records:
            value: Any = rec
            for part in key.split("."):
                if not isinstance(value, dict) or part not in value:
                    raise KeyError(f"key: {key!r} is not in the record of {self.step_name} "
                                   f"{rec.get(self.step_name)}")
                value = value[part]
            steps.append(rec[self.step_name])
            values.append(value)
        return steps, values

    def scalar_keys(self) -> list[str]:
        """The dotted keys of the numeric scalars of the last record."""
        return sorted(scalars(self.records[-1]) if self.records else {})

    def table_rows(self) -> tuple[list[str], list[dict[str, Any]]]:
        """``(columns, rows)``: one row per record with its scalars (dotted keys), saturation
        flags, and the spectral residual spread into one column per frequency
        (``spectral_residual.k=5``) or band (``band_residual.1``); histograms and per-layer
        lists stay in records.jsonl."""
        rows = []
        for rec in self.records:
            row: dict[str, Any] = dict(scalars(rec))
            for key, value in _flags(rec).items():
                row[key] = value
            for key, freqs_key in _SPECTRAL.items():
                values = rec.get(key)
                if isinstance(values, list):
                    names = [f"k={k}" for k in rec.get(freqs_key) or []] if freqs_key else []
                    names = names if len(names) == len(values) else \
                        [str(b + 1) for b in range(len(values))]
                    row.update({f"{key}.{n}": v for n, v in zip(names, values)})
            rows.append(row)
        first = [self.step_name]
        columns = first + sorted({k for row in rows for k in row} - set(first))
        return columns, rows

    def to_table(self):
        """The records as a table (``table_rows``): a pandas DataFrame when pandas is
        installed, else CSV text (a str, header line first)."""
        columns, rows = self.table_rows()
        try:
            import pandas  # optional: only for the DataFrame
        except ImportError:
            return self.to_csv()
        return pandas.DataFrame(rows, columns=columns)

    def to_csv(self, path: Optional[PathLike] = None) -> str:
        """The table as CSV text; also written (atomically) to ``path`` when given."""
        columns, rows = self.table_rows()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        if path is not None:
            atomic_write_bytes(path, buf.getvalue().encode())
        return buf.getvalue()

    def arrays(self, step: int) -> dict[str, np.ndarray]:
        """The arrays saved with the record of ``step`` (read from the folder)."""
        if self.folder is None:
            raise ValueError("step: these records are not stored in a folder (out=None)")
        path = self.folder / ARRAYS / f"{self.step_name}_{int(step):06d}.npz"
        if not path.is_file():
            raise ValueError(f"step: no arrays for {self.step_name} {step} in {str(path)!r}")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def plot(self, keys: Optional[Sequence[str]] = None, path: Optional[PathLike] = None, *,
             width: float = 7.0):
        """The records as a wrapped grid of labelled panels (``plots.curves.record_curves``);
        also saved to ``path`` (PNG, or the format of its suffix) when given."""
        fig = record_curves(self.records, keys, width=width, step_name=self.step_name)
        if path is not None:
            atomic_write_bytes(path, figure_bytes(fig, Path(path).suffix[1:] or "png"))
        return fig

    def _repr_png_(self) -> Optional[bytes]:
        if not self.records:
            return None
        return figure_bytes(self.plot(), "png", dpi=100)

    def __repr__(self) -> str:
        where = f" in {str(self.folder)!r}" if self.folder is not None else ""
        last = self.records[-1] if self.records else None
        tail = "" if last is None else (
            f", last at {self.step_name} {last.get(self.step_name)}" +
            (f": regions {record_count_text(last)}" if "regions" in last else ""))
        return f"MonitorRecords({len(self.records)} records{where}{tail})"


def _flags(rec: dict) -> dict[str, bool]:
    grid = rec.get("regions_grid")
    return {"regions_grid.saturated": bool(grid["saturated"])} \
        if isinstance(grid, dict) and "saturated" in grid else {}


def figure_bytes(fig, fmt: str = "png", dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()
