"""Minimal stand-ins for the Python layer (issue #4), used only while those modules are absent.

They follow the API contract literally (grid convention, encoding order, signal formula, sampler
rules) so that results do not change when ``layer.py`` switches to the real modules.
"""
from __future__ import annotations

import math
import os
import json
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- grids


def grid_coords(shape, coord_range=(0.0, 1.0), dtype=torch.float32, device="cpu") -> Tensor:
    shape = tuple(int(s) for s in shape)
    lo, hi = float(coord_range[0]), float(coord_range[1])
    if not shape or any(s < 2 for s in shape):
        raise ValueError(f"shape: expected sizes >= 2, got {shape}")
    if not hi > lo:
        raise ValueError(f"coord_range: expected lo < hi, got {coord_range}")
    axes = [lo + (hi - lo) * torch.arange(s, dtype=torch.float64) / s for s in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1).to(dtype=dtype, device=device)


# ----------------------------------------------------------------------------- encodings


class RawEncoding(torch.nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = self.out_dim = int(in_dim)

    def forward(self, coords: Tensor) -> Tensor:
        return coords

    def describe(self) -> dict:
        return {"kind": "raw", "in_dim": self.in_dim}


class PositionalEncoding(torch.nn.Module):
    def __init__(self, in_dim: int, levels: int):
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels: expected >= 1, got {levels}")
        self.in_dim, self.levels = int(in_dim), int(levels)
        self.out_dim = 2 * self.in_dim * self.levels

    def forward(self, coords: Tensor) -> Tensor:
        freqs = (2.0 ** torch.arange(self.levels, dtype=coords.dtype, device=coords.device)) * math.pi
        u = coords.unsqueeze(2) * freqs                                   # [N, D, L]
        return torch.stack([torch.sin(u), torch.cos(u)], dim=3).reshape(coords.shape[0], -1)

    def describe(self) -> dict:
        return {"kind": "pe", "in_dim": self.in_dim, "levels": self.levels}


class FourierFeatures(torch.nn.Module):
    def __init__(self, in_dim: int, num_features: int, sigma: float, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.in_dim, self.out_dim = int(in_dim), 2 * int(num_features)
        self.sigma, self.seed = float(sigma), int(seed)
        self.register_buffer("B", torch.randn(num_features, in_dim, generator=gen) * sigma)

    def forward(self, coords: Tensor) -> Tensor:
        u = 2 * math.pi * coords @ self.B.to(coords.dtype).T
        return torch.cat([torch.sin(u), torch.cos(u)], dim=1)

    def describe(self) -> dict:
        return {"kind": "rff", "in_dim": self.in_dim, "num_features": self.out_dim // 2,
                "sigma": self.sigma, "seed": self.seed}


def make_encoding(spec, in_dim: int) -> torch.nn.Module:
    if isinstance(spec, dict):
        kind = spec.get("kind")
        if kind == "raw":
            return RawEncoding(in_dim)
        if kind == "pe":
            return PositionalEncoding(in_dim, spec["levels"])
        if kind == "rff":
            return FourierFeatures(in_dim, spec["num_features"], spec["sigma"], spec.get("seed", 0))
        raise ValueError(f"encoding spec: unknown kind {kind!r}")
    parts = str(spec).split(":")
    if parts[0] == "raw" and len(parts) == 1:
        return RawEncoding(in_dim)
    if parts[0] == "pe" and len(parts) == 2:
        return PositionalEncoding(in_dim, int(parts[1]))
    if parts[0] == "rff" and len(parts) in (3, 4):
        seed = int(parts[3]) if len(parts) == 4 else 0
        return FourierFeatures(in_dim, int(parts[1]), float(parts[2]), seed)
    raise ValueError(
        f"encoding spec {spec!r}: expected 'raw', 'pe:<L>' or 'rff:<m>:<sigma>[:<seed>]'")


# ----------------------------------------------------------------------------- signals


@dataclass
class Signal1D:
    t: Tensor
    y: Tensor
    freqs: tuple
    amplitudes: tuple
    phases: tuple


def sum_of_sines(n=2048, freqs=tuple(range(5, 75, 5)), amplitudes=1.0, seed=0) -> Signal1D:
    freqs = tuple(int(k) for k in freqs)
    amps = tuple(float(amplitudes) for _ in freqs) if np.isscalar(amplitudes) else \
        tuple(float(a) for a in amplitudes)
    gen = torch.Generator().manual_seed(int(seed))
    phases = torch.rand(len(freqs), generator=gen, dtype=torch.float64)
    t = torch.arange(n, dtype=torch.float64) / n
    y = torch.zeros(n, dtype=torch.float64)
    for k, a, phi in zip(freqs, amps, phases):
        y += a * torch.sin(2 * math.pi * k * t + 2 * math.pi * phi)
    return Signal1D(t.float(), y.float(), freqs, amps, tuple(phases.tolist()))


def load_image(name_or_path, size=None, grey=True, seed=0) -> Tensor:
    from skimage import data, transform, color, io

    if name_or_path == "noise":
        if size is None:
            raise ValueError("load_image('noise'): pass size")
        h, w = (size, size) if isinstance(size, int) else size
        gen = torch.Generator().manual_seed(int(seed))
        return torch.rand(h, w, 1 if grey else 3, generator=gen)
    if name_or_path in ("camera", "astronaut", "coffee", "chelsea"):
        img = getattr(data, name_or_path)()
    elif str(name_or_path).endswith(".npy"):
        img = np.load(name_or_path)
    elif os.path.exists(str(name_or_path)):
        img = io.imread(name_or_path)
    else:
        raise ValueError(f"image {name_or_path!r}: expected camera, astronaut, coffee, chelsea, "
                         "noise or a path to a .png/.jpg/.npy file")
    img = np.asarray(img, dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 2:
        img = img[:, :, None]
    if grey and img.shape[2] >= 3:
        img = color.rgb2gray(img[:, :, :3])[:, :, None]
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else size
        if h == w and img.shape[0] != img.shape[1]:
            s = min(img.shape[:2])
            top, left = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
            img = img[top:top + s, left:left + s]
        img = transform.resize(img, (h, w), anti_aliasing=True)
    return torch.from_numpy(np.clip(img, 0, 1)).float()


# ----------------------------------------------------------------------------- samplers


def _distinct_pairs(candidates_i: Tensor, candidates_j: Tensor, count: int, gen) -> tuple:
    keep = candidates_i != candidates_j
    ci, cj = candidates_i[keep], candidates_j[keep]
    if count > ci.numel():
        raise ValueError(f"asked for {count} distinct pairs but only {ci.numel()} exist")
    sel = torch.randperm(ci.numel(), generator=gen)[:count]
    return ci[sel], cj[sel]


def local_pairs_1d(n, num_windows=25, window=50, pairs_per_window=250, seed=0):
    if window > n:
        raise ValueError(f"window ({window}) larger than the grid ({n})")
    gen = torch.Generator().manual_seed(int(seed))
    starts = torch.randint(0, n - window + 1, (num_windows,), generator=gen)
    ii, jj = [], []
    a, b = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    for s in starts.tolist():
        i, j = _distinct_pairs(a.reshape(-1) + s, b.reshape(-1) + s, pairs_per_window, gen)
        ii.append(i)
        jj.append(j)
    return torch.cat(ii).long(), torch.cat(jj).long()


def global_pairs_1d(n, num_pairs=5000, frac=0.4, seed=0):
    gen = torch.Generator().manual_seed(int(seed))
    m = int(frac * n)
    if m < 1 or m * m < num_pairs:
        raise ValueError(f"asked for {num_pairs} pairs from {m} x {m} candidates")
    flat = torch.randperm(m * m, generator=gen)[:num_pairs]
    return (flat // m).long(), (n - m + flat % m).long()


def local_pairs_2d(shape, num_patches, patch, pairs_per_patch, seed=0):
    h, w = shape
    gen = torch.Generator().manual_seed(int(seed))
    rows = torch.randint(0, h - patch + 1, (num_patches,), generator=gen)
    cols = torch.randint(0, w - patch + 1, (num_patches,), generator=gen)
    local = torch.arange(patch * patch)
    a, b = torch.meshgrid(local, local, indexing="ij")
    ii, jj = [], []
    for r, c in zip(rows.tolist(), cols.tolist()):
        to_flat = lambda q: (r + q // patch) * w + c + q % patch  # noqa: E731
        i, j = _distinct_pairs(to_flat(a.reshape(-1)), to_flat(b.reshape(-1)), pairs_per_patch, gen)
        ii.append(i)
        jj.append(j)
    return torch.cat(ii).long(), torch.cat(jj).long()


def corner_pairs_2d(shape, num_pairs, frac=0.25, seed=0):
    h, w = shape
    gen = torch.Generator().manual_seed(int(seed))
    ch, cw = max(1, int(frac * h)), max(1, int(frac * w))
    cells = ch * cw
    if cells * cells < num_pairs:
        raise ValueError(f"asked for {num_pairs} pairs from {cells} x {cells} candidates")
    flat = torch.randperm(cells * cells, generator=gen)[:num_pairs]
    a, b = flat // cells, flat % cells
    i = (a // cw) * w + a % cw
    j = (h - ch + b // cw) * w + (w - cw + b % cw)
    return i.long(), j.long()


# ----------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, allow_nan=True).encode())


def atomic_save_npz(path, **arrays) -> None:
    import io as _io
    buf = _io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())
