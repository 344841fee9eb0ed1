"""Target signals: the paper's 1D sum of sines and 2D images (bundled, noise, or a user's file)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .grids import normalize_shape

Tensor = torch.Tensor

BUNDLED_IMAGES = ("camera", "astronaut", "coffee", "chelsea")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".npy")


@dataclass
class Signal1D:
    """y(t) = sum_k A_k sin(2 pi k t + 2 pi phi_k) sampled at t = n/N, n = 0..N-1."""

    t: Tensor                      # [n]
    y: Tensor                      # [n]
    freqs: tuple[int, ...]
    amplitudes: tuple[float, ...]
    phases: tuple[float, ...]      # phi_k in [0, 1)

    @property
    def n(self) -> int:
        return int(self.t.shape[0])

    def coords(self) -> Tensor:
        """``[n, 1]`` coordinates for the network (the grid_coords((n,)) convention)."""
        return self.t.unsqueeze(1)

    def target(self) -> Tensor:
        """``[n, 1]`` target values."""
        return self.y.unsqueeze(1)


def sum_of_sines(n: int = 2048, freqs: Sequence[int] = tuple(range(5, 75, 5)),
                 amplitudes: Union[float, Sequence[float]] = 1.0, seed: int = 0,
                 dtype=torch.float32) -> Signal1D:
    """The paper's 1D target (N = 2048, k = 5..70 step 5, A_k = 1, phi_k ~ U[0,1) from ``seed``).

    Frequencies must be integers in 1..n/2-1 so each one is a single DFT bin of the grid.
    Computed in float64, returned in ``dtype``.
    """
    (n,) = normalize_shape((n,), "n")
    freqs_t = tuple(freqs)
    if not freqs_t:
        raise ValueError("freqs: expected at least one frequency")
    for k in freqs_t:
        if isinstance(k, bool) or int(k) != k or not 1 <= int(k) < n / 2:
            raise ValueError(f"freqs: expected integers in 1..{math.ceil(n / 2) - 1} "
                             f"(below Nyquist for n={n}), got {k!r}")
    freqs_t = tuple(int(k) for k in freqs_t)
    if len(set(freqs_t)) != len(freqs_t):
        raise ValueError(f"freqs: expected distinct frequencies, got {freqs_t}")
    if isinstance(amplitudes, (int, float)):
        amps = (float(amplitudes),) * len(freqs_t)
    else:
        amps = tuple(float(a) for a in amplitudes)
        if len(amps) != len(freqs_t):
            raise ValueError(f"amplitudes: expected one per frequency ({len(freqs_t)}), "
                             f"got {len(amps)}")
    if not all(math.isfinite(a) for a in amps):
        raise ValueError(f"amplitudes: expected finite values, got {amps}")
    gen = torch.Generator().manual_seed(int(seed))
    phases = torch.rand(len(freqs_t), generator=gen, dtype=torch.float64)
    t = torch.arange(n, dtype=torch.float64) / n
    k = torch.tensor(freqs_t, dtype=torch.float64)
    a = torch.tensor(amps, dtype=torch.float64)
    y = (a * torch.sin(2 * math.pi * (t[:, None] * k + phases))).sum(dim=1)
    return Signal1D(t=t.to(dtype), y=y.to(dtype), freqs=freqs_t, amplitudes=amps,
                    phases=tuple(float(p) for p in phases))


# ----------------------------------------------------------------------------- images


def _size_hw(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    try:
        dims = normalize_shape(tuple(size), "size")
    except (TypeError, ValueError):
        raise ValueError(f"size: expected an int >= 2 or (H, W) with sizes >= 2, got {size!r}") \
            from None
    if len(dims) != 2:
        raise ValueError(f"size: expected an int or (H, W), got {size!r}")
    return dims


def _to_unit_float(arr: np.ndarray, source: str) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        if info.min < 0 and arr.min() < 0:
            raise ValueError(f"image: {source} has negative integer values")
        return arr.astype(np.float64) / float(info.max)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"image: {source} contains NaN or infinite values")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise ValueError(f"image: {source} has float values outside [0, 1] "
                             f"(min {arr.min():.4g}, max {arr.max():.4g})")
        return arr.astype(np.float64)
    raise ValueError(f"image: {source} has unsupported dtype {arr.dtype}")


def _bundled(name: str) -> np.ndarray:
    from skimage import data  # bundled with scikit-image; no download
    return getattr(data, name)()


def _read_file(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise ValueError(f"name_or_path: {path!r} is neither a bundled image "
                         f"{BUNDLED_IMAGES + ('noise',)} nor an existing file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"name_or_path: {path!r} has an unsupported suffix; expected one of "
                         f"{IMAGE_SUFFIXES}")
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            from skimage import io  # heavy (imageio plugins): only when a file is read
            arr = io.imread(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file
        raise ValueError(f"name_or_path: could not decode {path!r}: {exc}") from None
    return np.asarray(arr)


def _as_hwc(arr: np.ndarray, source: str) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image: {source} has shape {arr.shape}; expected [H, W] or [H, W, C] "
                         "with C in 1..4")
    if arr.shape[2] in (2, 4):  # drop alpha
        arr = arr[:, :, :-1]
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"image: {source} is {arr.shape[0]}x{arr.shape[1]}; need at least 2x2")
    return arr


def _to_grey(img: Tensor) -> Tensor:
    if img.shape[2] == 1:
        return img
    weights = torch.tensor([0.2125, 0.7154, 0.0721], dtype=img.dtype)  # ITU-R BT.709, as skimage
    return (img * weights).sum(dim=2, keepdim=True)


def _centre_crop_square(img: Tensor) -> Tensor:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def _resize(img: Tensor, hw: tuple[int, int]) -> Tensor:
    if tuple(img.shape[:2]) == hw:
        return img
    chw = img.permute(2, 0, 1).unsqueeze(0)
    out = F.interpolate(chw, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return out.squeeze(0).permute(1, 2, 0).clamp(0.0, 1.0)


def load_image(name_or_path: Union[str, os.PathLike], size=None, grey: bool = True,
               seed: int = 0) -> Tensor:
    """An image as float32 ``[H, W, C]`` in [0, 1].

    ``name_or_path``: "camera", "astronaut", "coffee", "chelsea" (scikit-image's bundled data, no
    network), "noise" (seeded uniform noise, needs ``size``), or a path to .png/.jpg/.npy.
    ``size``: an int centre-crops to a square and resizes to size x size; ``(H, W)`` resizes
    directly (bilinear with antialiasing). ``grey``: convert colour to luminance (C = 1);
    otherwise colour images keep C = 3 and grey ones C = 1.
    """
    hw = _size_hw(size)
    name = os.fspath(name_or_path) if isinstance(name_or_path, os.PathLike) else name_or_path
    if not isinstance(name, str):
        raise ValueError(f"name_or_path: expected a str or path, got {type(name).__name__}")
    if name == "noise":
        if hw is None:
            raise ValueError('size: the "noise" image needs a size (int or (H, W))')
        gen = torch.Generator().manual_seed(int(seed))
        channels = 1 if grey else 3
        return torch.rand(hw[0], hw[1], channels, generator=gen, dtype=torch.float32)
    if name in BUNDLED_IMAGES:
        arr, source = _bundled(name), f"bundled image {name!r}"
    else:
        arr, source = _read_file(name), repr(name)
    arr = _as_hwc(arr, source)
    img = torch.from_numpy(np.ascontiguousarray(_to_unit_float(arr, source)))
    if grey:
        img = _to_grey(img)
    if hw is not None:
        if isinstance(size, int):
            img = _centre_crop_square(img)
        img = _resize(img, hw)
    return img.to(torch.float32).contiguous()
