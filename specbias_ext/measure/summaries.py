"""Summaries of a 1D tensor of values: quantile summary and fixed-range histograms."""
from __future__ import annotations

from typing import Optional

import torch

Tensor = torch.Tensor

SUMMARY_KEYS = ("mean", "std", "min", "q05", "median", "q95", "max")


def summary(values: Tensor) -> dict[str, Optional[float]]:
    """mean, population std, min, 5/50/95 % quantiles and max (float64; all None when empty)."""
    if values.numel() == 0:
        return {k: None for k in SUMMARY_KEYS}
    v = values.detach().to(torch.float64).flatten().sort().values
    n = v.numel()
    # Quantiles by linear interpolation between order statistics (torch.quantile's "linear"),
    # read off one sort: torch.quantile re-sorts for every call and costs more than the rest.
    quantiles = []
    for q in (0.05, 0.5, 0.95):
        pos = q * (n - 1)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        quantiles.append(v[lo] + (pos - lo) * (v[hi] - v[lo]))
    stats = torch.stack([v.mean(), v.std(unbiased=False), v[0], *quantiles, v[-1]])
    return dict(zip(SUMMARY_KEYS, stats.cpu().tolist()))


def histogram(values: Tensor, bins: int, lo: float, hi: float) -> list[int]:
    """Counts in ``bins`` equal bins on [lo, hi]; values outside are counted in the end bins."""
    v = values.detach().to(torch.float64).flatten().cpu()
    if v.numel() == 0:
        return [0] * bins
    return torch.histc(v.clamp(lo, hi), bins=bins, min=lo, max=hi).to(torch.int64).tolist()


def log2_size_histogram(counts: Tensor) -> list[int]:
    """How many regions fall in each size class [2^b, 2^(b+1)), b = 0, 1, ...."""
    if counts.numel() == 0:
        return []
    classes = torch.floor(torch.log2(counts.to(torch.float64))).to(torch.int64).cpu()
    return torch.bincount(classes).tolist()


def fraction(mask: Tensor) -> Optional[float]:
    """Share of True entries (None when empty)."""
    return float(mask.to(torch.float64).mean()) if mask.numel() else None
