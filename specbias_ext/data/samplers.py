"""Seeded samplers of point pairs on 1D and 2D grids (the paper's local and global pairs).

Indices refer to grid points in row-major order (the grid_coords convention). Every sampler draws
DISTINCT pairs with i != j from a private generator seeded by ``seed`` (the global RNG is
untouched) and returns ``(i, j)`` as int64 tensors. Asking for more distinct pairs than a
window / patch / corner holds is a ValueError.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence, Union

import torch

from .._validate import int_at_least
from .grids import normalize_shape

Tensor = torch.Tensor



def _check_frac(frac, name: str = "frac") -> float:
    frac = float(frac)
    if not 0.0 < frac <= 0.5:
        raise ValueError(f"{name}: expected 0 < frac <= 0.5 (so the two ends do not overlap), "
                         f"got {frac}")
    return frac


def _first_occurrences(keys: Tensor) -> Tensor:
    """Positions of the first occurrence of each distinct key, in order of appearance."""
    uniq, inverse = torch.unique(keys, return_inverse=True)
    positions = torch.arange(keys.numel(), dtype=torch.int64)
    first = torch.full((uniq.numel(),), keys.numel(), dtype=torch.int64)
    first.scatter_reduce_(0, inverse, positions, reduce="amin")
    return first.sort().values


def _distinct_keys(total: int, k: int, gen: torch.Generator, draw) -> Tensor:
    """k distinct keys out of ``total`` possible ones; ``draw(count)`` returns random keys.

    When k is a large share of the total, a permutation of all keys is cheaper than rejection.
    """
    if 2 * k >= total:
        return torch.randperm(total, generator=gen)[:k]
    keys = torch.empty(0, dtype=torch.int64)
    while True:
        keys = torch.cat([keys, draw(2 * k)])
        keys = keys[_first_occurrences(keys)]
        if keys.numel() >= k:
            return keys[:k]


def _pairs_within(m: int, k: int, gen: torch.Generator, what: str) -> tuple[Tensor, Tensor]:
    """k distinct unordered pairs (a < b) of m items, as local indices."""
    total = m * (m - 1) // 2
    if k > total:
        raise ValueError(f"{what}: asked for {k} distinct pairs but {m} points have only "
                         f"{total}")
    if 2 * k >= total:
        tri = torch.triu_indices(m, m, offset=1)
        pick = torch.randperm(total, generator=gen)[:k]
        return tri[0, pick], tri[1, pick]

    def draw(count):
        a = torch.randint(0, m, (count,), generator=gen)
        b = (a + torch.randint(1, m, (count,), generator=gen)) % m  # b != a, uniform
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        return lo * m + hi

    keys = _distinct_keys(total, k, gen, draw)
    return keys // m, keys % m


def _pairs_across(ma: int, mb: int, k: int, gen: torch.Generator,
                  what: str) -> tuple[Tensor, Tensor]:
    """k distinct ordered pairs (a in 0..ma-1, b in 0..mb-1)."""
    total = ma * mb
    if k > total:
        raise ValueError(f"{what}: asked for {k} distinct pairs but only {total} exist "
                         f"({ma} x {mb} points)")

    def draw(count):
        return (torch.randint(0, ma, (count,), generator=gen) * mb
                + torch.randint(0, mb, (count,), generator=gen))

    keys = _distinct_keys(total, k, gen, draw)
    return keys // mb, keys % mb


def local_pairs_1d(n: int, num_windows: int = 25, window: int = 50, pairs_per_window: int = 250,
                   seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pairs of nearby points: ``num_windows`` windows of ``window`` consecutive samples at
    seeded random starts, and ``pairs_per_window`` distinct pairs (i < j) inside each.

    The paper's setting is the default (25 windows of 50 samples, 250 pairs each, N = 2048).
    Output length num_windows * pairs_per_window, window by window.
    """
    (n,) = normalize_shape((n,), "n")
    num_windows = int_at_least(num_windows, "num_windows", 1)
    window = int_at_least(window, "window", 2)
    pairs_per_window = int_at_least(pairs_per_window, "pairs_per_window", 1)
    if window > n:
        raise ValueError(f"window: {window} samples do not fit in a grid of {n}")
    gen = torch.Generator().manual_seed(int(seed))
    starts = torch.randint(0, n - window + 1, (num_windows,), generator=gen)
    ii, jj = [], []
    for start in starts.tolist():
        a, b = _pairs_within(window, pairs_per_window, gen, "pairs_per_window")
        ii.append(a + start)
        jj.append(b + start)
    return torch.cat(ii), torch.cat(jj)


def global_pairs_1d(n: int, num_pairs: int = 5000, frac: float = 0.4,
                    seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pairs of distant points: i in the first ``floor(frac n)`` samples, j in the last ones."""
    (n,) = normalize_shape((n,), "n")
    num_pairs = int_at_least(num_pairs, "num_pairs", 1)
    frac = _check_frac(frac)
    m = int(math.floor(frac * n))
    if m < 1:
        raise ValueError(f"frac: {frac} of a grid of {n} holds no sample")
    gen = torch.Generator().manual_seed(int(seed))
    a, b = _pairs_across(m, m, num_pairs, gen, "num_pairs")
    return a, b + (n - m)


def _patch_hw(patch, name="patch") -> tuple[int, int]:
    if isinstance(patch, int) and not isinstance(patch, bool):
        patch = (patch, patch)
    try:
        ph, pw = patch
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an int or (h, w), got {patch!r}") from None
    return int_at_least(ph, name, 1), int_at_least(pw, name, 1)


def local_pairs_2d(shape: Sequence[int], num_patches: int = 25,
                   patch: Union[int, tuple[int, int]] = 8, pairs_per_patch: int = 250,
                   seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pairs inside small patches: ``num_patches`` patches of ``patch`` x ``patch`` pixels (or
    (h, w)) at seeded random positions, ``pairs_per_patch`` distinct pairs inside each.

    Indices are row-major flat indices r * W + c of the (H, W) grid.
    """
    dims = normalize_shape(shape, "shape")
    if len(dims) != 2:
        raise ValueError(f"shape: expected a 2D grid (H, W), got {dims}")
    h, w = dims
    num_patches = int_at_least(num_patches, "num_patches", 1)
    ph, pw = _patch_hw(patch)
    pairs_per_patch = int_at_least(pairs_per_patch, "pairs_per_patch", 1)
    if ph > h or pw > w:
        raise ValueError(f"patch: {ph}x{pw} does not fit in a {h}x{w} grid")
    gen = torch.Generator().manual_seed(int(seed))
    tops = torch.randint(0, h - ph + 1, (num_patches,), generator=gen)
    lefts = torch.randint(0, w - pw + 1, (num_patches,), generator=gen)
    ii, jj = [], []
    for top, left in zip(tops.tolist(), lefts.tolist()):
        a, b = _pairs_within(ph * pw, pairs_per_patch, gen, "pairs_per_patch")
        ii.append((top + a // pw) * w + left + a % pw)
        jj.append((top + b // pw) * w + left + b % pw)
    return torch.cat(ii), torch.cat(jj)


def corner_pairs_2d(shape: Sequence[int], num_pairs: int = 5000, frac: float = 0.25,
                    seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pairs from opposite corners: i in the top-left ``floor(frac H) x floor(frac W)`` block,
    j in the bottom-right block of the same size."""
    dims = normalize_shape(shape, "shape")
    if len(dims) != 2:
        raise ValueError(f"shape: expected a 2D grid (H, W), got {dims}")
    h, w = dims
    num_pairs = int_at_least(num_pairs, "num_pairs", 1)
    frac = _check_frac(frac)
    ch, cw = int(math.floor(frac * h)), int(math.floor(frac * w))
    if ch < 1 or cw < 1:
        raise ValueError(f"frac: {frac} of a {h}x{w} grid gives an empty corner")
    gen = torch.Generator().manual_seed(int(seed))
    a, b = _pairs_across(ch * cw, ch * cw, num_pairs, gen, "num_pairs")
    i = (a // cw) * w + a % cw
    j = (h - ch + b // cw) * w + (w - cw) + b % cw
    return i, j


@dataclass(frozen=True)
class PairSampling:
    """How the local and global pairs of a grid are drawn (the one settings type every caller
    uses; the defaults are the paper's).

    1D: ``num_windows`` windows of ``window`` samples with ``pairs_per_window`` pairs each
    (local); ``global_pairs`` pairs between the first and last ``global_frac`` of the grid.
    2D: ``num_patches`` patches of ``patch`` x ``patch`` with ``pairs_per_patch`` pairs (local);
    ``corner_pairs`` pairs between opposite ``corner_frac`` corners (global).
    """

    num_windows: int = 25
    window: int = 50
    pairs_per_window: int = 250
    global_pairs: int = 5000
    global_frac: float = 0.4
    num_patches: int = 25
    patch: int = 8
    pairs_per_patch: int = 250
    corner_pairs: int = 5000
    corner_frac: float = 0.25

    def sample(self, grid_shape: Sequence[int], seed: int = 0) -> dict[str, tuple[Tensor, Tensor]]:
        """``{"local": (i, j), "global": (i, j)}`` on a 1D ``(N,)`` or 2D ``(H, W)`` grid; both
        kinds are drawn from ``seed`` (each sampler has its own generator)."""
        shape = normalize_shape(grid_shape, "grid_shape")
        if len(shape) == 1:
            (n,) = shape
            return {"local": local_pairs_1d(n, self.num_windows, self.window,
                                            self.pairs_per_window, seed=seed),
                    "global": global_pairs_1d(n, self.global_pairs, self.global_frac, seed=seed)}
        if len(shape) == 2:
            return {"local": local_pairs_2d(shape, self.num_patches, self.patch,
                                            self.pairs_per_patch, seed=seed),
                    "global": corner_pairs_2d(shape, self.corner_pairs, self.corner_frac,
                                              seed=seed)}
        raise ValueError(f"grid_shape: local/global pairs need a 1D or 2D grid, got {shape}")

    def fitted(self, grid_shape: Sequence[int]) -> "PairSampling":
        """The same settings reduced where a small grid holds fewer distinct pairs."""
        shape = normalize_shape(grid_shape, "grid_shape")
        if len(shape) == 1:
            window = min(self.window, max(2, shape[0] // 4))
            far = int(self.global_frac * shape[0])
            return replace(self, window=window,
                           pairs_per_window=min(self.pairs_per_window, window * (window - 1) // 2),
                           global_pairs=max(1, min(self.global_pairs, far * far // 2)))
        patch = min(self.patch, max(2, min(shape) // 4))
        corner = int(self.corner_frac * shape[0]) * int(self.corner_frac * shape[1])
        return replace(self, patch=patch,
                       pairs_per_patch=min(self.pairs_per_patch, patch ** 2 * (patch ** 2 - 1) // 2),
                       corner_pairs=max(1, min(self.corner_pairs, corner * corner // 2)))

    def describe(self, dims: int) -> dict:
        """The settings of a ``dims``-D grid in the samplers' argument names."""
        if dims == 1:
            return {"local": dict(num_windows=self.num_windows, window=self.window,
                                  pairs_per_window=self.pairs_per_window),
                    "global": dict(num_pairs=self.global_pairs, frac=self.global_frac)}
        return {"local": dict(num_patches=self.num_patches, patch=self.patch,
                              pairs_per_patch=self.pairs_per_patch),
                "global": dict(num_pairs=self.corner_pairs, frac=self.corner_frac)}
