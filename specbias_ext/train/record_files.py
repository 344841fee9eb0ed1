"""The files a monitor writes to its ``out`` folder, and the rule that nothing there is lost.

``settings.json`` (how the records are taken), ``records.jsonl`` (every record, one a line,
rewritten atomically after each record, so a crash keeps every record taken),
``arrays/<step_name>_<step>.npz``, ``monitor.png`` (``plot``) and TensorBoard scalars under
``tensorboard/``. The folder is claimed through ``runs.ownership``: a folder holding another
monitor's records is refused unless ``resume`` (the records continue, the settings must match;
refused when there are none) or ``overwrite`` (that monitor's files are removed first); files the
monitor did not write are never touched.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..runs.files import atomic_save_npz, atomic_write_bytes, atomic_write_json, to_jsonable
from ..runs.ownership import claim_folder
from .records import (ARRAYS, FIGURE, RECORDS, SETTINGS, TENSORBOARD, figure_bytes,
                      read_records, read_settings, scalars)

WRITER = "RegionMonitor"
#: Settings that change what a record holds: a resumed monitor must share them.
CONTENT_SETTINGS = ("config", "grid_shape", "signal_freqs", "step_name", "num_pairs", "points",
                    "output")


def _differences(stored: dict, new: dict) -> list[str]:
    diffs = []
    for key in CONTENT_SETTINGS:
        a, b = stored.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} now"
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{key}: {a!r} there, {b!r} now")
    return diffs


class RecordFiles:
    """The writer of one monitor folder (claimed at construction; see the module docstring).

    ``earlier``: the records already in the folder that a resumed monitor continues.
    """

    def __init__(self, folder: str, settings: dict[str, Any], *, resume: bool = False,
                 overwrite: bool = False, tensorboard: Optional[bool] = None):
        self.folder = Path(folder)
        self.ownership = claim_folder(self.folder, WRITER, resume=resume, overwrite=overwrite)
        self.earlier: list[dict[str, Any]] = []
        new_settings = json.loads(json.dumps(to_jsonable(settings)))
        if resume:
            self.earlier = read_records(self.folder)
            stored = read_settings(self.folder)
            if self.earlier and stored is None:
                raise ValueError(f"resume: {str(folder)!r} holds records without {SETTINGS}, so "
                                 "their settings cannot be checked; pass overwrite=True to "
                                 "replace them or choose another out folder")
            diffs = _differences(stored, new_settings) if self.earlier else []
            if diffs:
                raise ValueError(f"resume: the records in {str(folder)!r} were taken with other "
                                 f"settings ({'; '.join(diffs)}); use the same settings, pass "
                                 "overwrite=True to replace them, or choose another out folder")
        elif overwrite:
            self._remove_earlier()
        self._write(SETTINGS, lambda p: atomic_write_json(p, new_settings))
        self._tb = self._tensorboard(tensorboard)

    def _write(self, relpath: str, write) -> None:
        """Write one file (refused if another writer owns it), recorded in the folder's
        manifest first, so the manifest always covers what is on disk."""
        self.ownership.check_writable(relpath)
        self.ownership.record(relpath)
        write(self.folder / relpath)

    def _remove_earlier(self) -> None:
        """overwrite=True: remove the files an earlier monitor wrote here (and only those)."""
        candidates = [RECORDS, FIGURE]
        for sub in (ARRAYS, TENSORBOARD):
            if (self.folder / sub).is_dir():
                candidates += [f"{sub}/{p.name}" for p in sorted((self.folder / sub).iterdir())
                               if p.is_file()]
        for rel in candidates:
            if (self.folder / rel).is_file() and self.ownership.owns(rel):
                os.unlink(self.folder / rel)

    def _tensorboard(self, wanted: Optional[bool]):
        if wanted is False:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: tensorboard package
        except ImportError:
            if wanted:
                raise ValueError("tensorboard: torch.utils.tensorboard does not import (install "
                                 "the tensorboard package)") from None
            return None
        logdir = self.folder / TENSORBOARD
        self._tb_before = set(os.listdir(logdir)) if logdir.is_dir() else set()
        return SummaryWriter(str(logdir))

    def write(self, rec: dict, arrays: dict[str, np.ndarray], history: list[dict],
              step_name: str) -> None:
        """The arrays of ``rec`` and every record of ``history`` (``rec`` last)."""
        step = rec[step_name]
        self._write(f"{ARRAYS}/{step_name}_{step:06d}.npz",
                    lambda p: atomic_save_npz(p, **arrays))
        lines = "".join(json.dumps(to_jsonable(r)) + "\n" for r in history)
        self._write(RECORDS, lambda p: atomic_write_bytes(p, lines.encode()))
        if self._tb is not None:
            for k, v in scalars(rec).items():
                self._tb.add_scalar(k, v, step)
            self._tb.flush()
            # SummaryWriter names its event file itself (time, host, pid), so it can only be
            # recorded once it exists; it never replaces a file.
            new = set(os.listdir(self.folder / TENSORBOARD)) - self._tb_before
            self.ownership.record(*(f"{TENSORBOARD}/{name}" for name in sorted(new)))

    def save_figure(self, fig) -> Path:
        self._write(FIGURE, lambda p: atomic_write_bytes(p, figure_bytes(fig, "png", dpi=150)))
        return self.folder / FIGURE

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
