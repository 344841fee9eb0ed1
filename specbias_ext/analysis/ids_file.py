"""Per-point arrays on disk (the region ids, and with the local complexity every point's
total): a ``.npy`` file written tile by tile and put in place atomically, and a raw scratch
file (a rank's block, before it is relabelled or sent to rank 0) read back in chunks."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

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


#: The dtypes of the per-point files: region ids, and every point's local-complexity total
#: (at most the number of hidden neurons).
IDS_DTYPE = np.dtype(np.int64)
LC_TOTAL_DTYPE = np.dtype(np.int32)


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype of the numpy ``dtype`` (for buffers that receive a file's values)."""
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def _as_array(values: Tensor, dtype: np.dtype) -> np.ndarray:
    """``values`` on the CPU as a contiguous numpy array of ``dtype``."""
    return np.ascontiguousarray(values.detach().cpu().numpy(), dtype=dtype)


class NpyTileWriter:
    """A ``dtype`` array of ``shape`` written in row-major chunks to a temporary file beside
    ``path``; ``commit()`` fsyncs it and renames it over ``path`` (a crash leaves the old file or
    none, never a torn one), with the mode an ordinary ``open`` gives (the replaced file's, else
    0666 less the umask); ``abort()`` removes the temporary file."""

    def __init__(self, path, shape: Sequence[int], dtype=IDS_DTYPE):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"{str(self.path)!r} is a directory, expected a .npy file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.expected = int(np.prod(self.shape, dtype=np.int64)) if self.shape else 0
        self.written = 0
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                        dir=self.path.parent)
        self.file = os.fdopen(fd, "wb")
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                        "fortran_order": False, "shape": self.shape})

    def write(self, values: Tensor) -> None:
        arr = _as_array(values, self.dtype)
        self.file.write(arr.tobytes())
        self.written += arr.size

    def commit(self) -> None:
        if self.written != self.expected:
            self.abort()
            raise RuntimeError(f"{self.path}: wrote {self.written} values, expected "
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


@contextlib.contextmanager
def npy_files(*specs: Optional[tuple]) -> Iterator[list[Optional[NpyTileWriter]]]:
    """An ``NpyTileWriter(path, shape, dtype)`` for each spec (None: no file, None in its
    place); all are committed when the block ends, and all aborted when it (or a commit)
    raises, so a failure leaves no temporary file and no file of its own under its name."""
    writers: list[Optional[NpyTileWriter]] = []
    try:
        for spec in specs:
            writers.append(None if spec is None else NpyTileWriter(*spec))
        yield writers
        for writer in writers:
            if writer is not None:
                writer.commit()
    except BaseException:
        for writer in writers:
            if writer is not None:
                writer.abort()
        raise


class RawTileFile:
    """Scratch file of ``dtype`` values (no header), appended tile by tile and read back in
    chunks; ``close()`` removes it."""

    def __init__(self, folder=None, dtype=IDS_DTYPE):
        if folder is not None:
            os.makedirs(folder, exist_ok=True)
        self.dtype = np.dtype(dtype)
        fd, self.path = tempfile.mkstemp(prefix=".specbias-scratch-", suffix=".raw",
                                         dir=folder)
        self.file = os.fdopen(fd, "w+b")
        self.count = 0

    def write(self, values: Tensor) -> None:
        arr = _as_array(values, self.dtype)
        self.file.write(arr.tobytes())
        self.count += arr.size

    def chunks(self, size: int) -> Iterator[Tensor]:
        self.file.flush()
        self.file.seek(0)
        left = self.count
        while left > 0:
            k = min(size, left)
            data = self.file.read(self.dtype.itemsize * k)
            yield torch.from_numpy(np.frombuffer(data, dtype=self.dtype).copy())
            left -= k

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
