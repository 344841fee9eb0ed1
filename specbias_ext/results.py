"""Atomic file writes and the run directory (results.json, arrays.npz, checkpoint.pt).

Every write goes to a temporary file in the destination folder, is fsync'ed, and then replaces
the destination with os.replace, so a crash leaves either the old file or the new one, never a
torn one.
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def to_jsonable(obj: Any) -> Any:
    """Tensors, numpy values, tuples and dataclass-like dicts to plain JSON types.

    Non-finite floats become None (JSON has no NaN/inf) so the files stay strictly valid JSON.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist() if obj.dim() else obj.item())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, torch.dtype):
        return str(obj)
    return obj


def atomic_write_json(path: PathLike, obj: Any) -> None:
    text = json.dumps(to_jsonable(obj), indent=1, allow_nan=False)
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_npz(path: PathLike, **arrays) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor)
                                    else np.asarray(v)) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())


def atomic_torch_save(path: PathLike, obj: Any) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


class RunDirectory:
    """One training run on disk: ``results.json`` (settings + time series), ``arrays.npz``
    (region-id maps, histograms, ... keyed by name) and ``checkpoint.pt`` (model, optimizer,
    RNG states, epoch, history) for resuming."""

    RESULTS = "results.json"
    ARRAYS = "arrays.npz"
    CHECKPOINT = "checkpoint.pt"

    def __init__(self, path: PathLike):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"run_dir: {str(self.path)!r} exists and is not a directory")
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    @property
    def arrays_path(self) -> Path:
        return self.path / self.ARRAYS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    def write_results(self, obj: dict) -> None:
        atomic_write_json(self.results_path, obj)

    def read_results(self) -> dict:
        with open(self.results_path) as f:
            return json.load(f)

    def write_arrays(self, arrays: dict) -> None:
        atomic_save_npz(self.arrays_path, **arrays)

    def read_arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.arrays_path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def save_checkpoint(self, state: dict) -> None:
        atomic_torch_save(self.checkpoint_path, state)

    def load_checkpoint(self, map_location="cpu") -> dict:
        if not self.has_checkpoint():
            raise ValueError(f"run_dir: no {self.CHECKPOINT} in {str(self.path)!r} to resume from")
        return torch.load(self.checkpoint_path, map_location=map_location, weights_only=False)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"
