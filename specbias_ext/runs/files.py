"""Atomic file writes, safe checkpoint loading and the run directory (results.json, arrays.npz,
checkpoint.pt).

Every write goes to a temporary file in the destination folder, is fsync'ed, and then replaces
the destination with os.replace, so a crash leaves either the old file or the new one, never a
torn one. The new file gets the mode an ordinary ``open(path, "w")`` would give it: the existing
file's mode when it replaces one, else 0666 less the process umask. A temporary file left by a
killed writer (named ``.<name>.<pid>.<random>.specbias-tmp``) is removed by the next write into
the same folder once its process is gone.

Checkpoints are loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings, lists
and dicts only, so loading never runs code from the file.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import secrets
import stat
import warnings
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


TEMP_SUFFIX = ".specbias-tmp"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    """The mode ``path`` keeps (existing file) or gets (new file, umask applied)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temp_files(folder: PathLike) -> list[Path]:
    """Remove temporary files of our own naming whose writing process no longer exists (left by
    a SIGKILL during a write). Returns the removed paths."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
            continue
        parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        if _pid_alive(int(parts[1])):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except FileNotFoundError:
            pass
    return removed


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, os.replace),
    keeping the mode an ordinary write would give (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a directory, expected a file path")
    clean_stale_temp_files(path.parent)
    mode = _target_mode(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename is None:   # a full disk names no file
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _numpy_safe_globals() -> list:
    """numpy's array and scalar constructors and numeric dtypes: what a checkpoint holding plain
    numpy arrays needs under weights_only (object arrays still need more and stay refused)."""
    core = getattr(np, "_core", None) or np.core
    numeric = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
               np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128)
    return ([core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
            + [type(np.dtype(t)) for t in numeric])


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded safely (missing, truncated, corrupt, foreign, or
    needing code execution to unpickle)."""


def unpickling_refusal(exc: BaseException) -> str:
    """Why torch's weights-only unpickler refused a file, in our words (torch's own message
    advises loading the file with weights_only=False, which would run code from it)."""
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if match:
        return f"it names {match.group(1)}, which is not on the allow-list"
    return "it holds objects other than tensors, numbers, strings, lists and dicts"


def safe_torch_load(path: PathLike, map_location="cpu", allowed_globals=()) -> Any:
    """``torch.load(path, weights_only=True)`` allowing numeric numpy arrays and
    ``allowed_globals``, without torch's warnings about the pickle protocol (the refusal, if
    any, is the answer)."""
    with warnings.catch_warnings(), torch.serialization.safe_globals(
            _numpy_safe_globals() + list(allowed_globals)):
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True)


def first_line(exc: BaseException, sentence: bool = False) -> str:
    """The first non-empty line of ``exc``'s message (with ``sentence``: up to its first full
    stop, for library messages that go on with advice), else its type's name."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    return line.split(". ", 1)[0] if sentence else line


def load_checkpoint_file(path: PathLike, map_location="cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors a user can act on.

    Only tensors, numeric numpy arrays, numbers, strings, lists, tuples and dicts are accepted:
    a file whose pickle asks for any other object (which could run code) is refused with
    ``CheckpointError``, as are missing, empty, truncated and corrupt files.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {str(path)!r} is empty")
    try:
        return safe_torch_load(path, map_location)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused: {unpickling_refusal(exc)}, and loading "
            "anything beyond tensors, numbers, strings, lists and dicts could run code from the "
            "file") from None
    except Exception as exc:  # the unpickler raises many kinds on garbage (IndexError, ...)
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read (truncated, corrupt or not a torch "
            f"checkpoint): {type(exc).__name__}: {first_line(exc, sentence=True)}") from None


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
        return load_checkpoint_file(self.checkpoint_path, map_location=map_location)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"
