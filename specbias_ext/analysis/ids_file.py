"""Region ids on disk: a ``.npy`` file written tile by tile and put in place atomically, and a
raw scratch file of int64 ids read back in chunks (a rank's block before relabelling)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

Tensor = torch.Tensor


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class NpyIdsWriter:
    """``int64`` array of ``shape`` written in row-major chunks to a temporary file beside
    ``path``; ``commit()`` fsyncs it and renames it over ``path`` (a crash leaves the old file or
    none, never a torn one); ``abort()`` removes the temporary file."""

    def __init__(self, path, shape: Sequence[int]):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"ids_path: {str(self.path)!r} is a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(int(s) for s in shape)
        self.expected = int(np.prod(self.shape, dtype=np.int64)) if self.shape else 0
        self.written = 0
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                        dir=self.path.parent)
        self.file = os.fdopen(fd, "wb")
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.int64)),
                        "fortran_order": False, "shape": self.shape})

    def write(self, ids: Tensor) -> None:
        arr = ids.detach().to("cpu", torch.int64).numpy()
        self.file.write(np.ascontiguousarray(arr).tobytes())
        self.written += arr.size

    def commit(self) -> None:
        if self.written != self.expected:
            self.abort()
            raise RuntimeError(f"ids file {self.path}: wrote {self.written} ids, expected "
                               f"{self.expected}")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        mode = None
        if self.path.exists():
            mode = self.path.stat().st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(self.tmp, mode)
        os.replace(self.tmp, self.path)
        _fsync_dir(self.path.parent)

    def abort(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


class RawIdsFile:
    """Scratch file of int64 ids (no header), appended tile by tile and read back in chunks."""

    def __init__(self, folder=None):
        if folder is not None:
            os.makedirs(folder, exist_ok=True)
        fd, self.path = tempfile.mkstemp(prefix=".specbias-ids-", suffix=".raw", dir=folder)
        self.file = os.fdopen(fd, "w+b")
        self.count = 0

    def write(self, ids: Tensor) -> None:
        arr = ids.detach().to("cpu", torch.int64).numpy()
        self.file.write(np.ascontiguousarray(arr).tobytes())
        self.count += arr.size

    def chunks(self, size: int) -> Iterator[Tensor]:
        self.file.flush()
        self.file.seek(0)
        left = self.count
        while left > 0:
            k = min(size, left)
            data = self.file.read(8 * k)
            yield torch.from_numpy(np.frombuffer(data, dtype=np.int64).copy())
            left -= k

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
