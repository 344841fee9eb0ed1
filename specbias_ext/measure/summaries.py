"""Summaries of a 1D tensor of values: quantile summary and fixed-range histograms."""
from __future__ import annotations

import bisect
import math
from fractions import Fraction
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


def count_summary(hist: Tensor) -> dict[str, Optional[float]]:
    """``summary`` of whole numbers given by their counts (``hist[k]``: how many values are k),
    so that counts summed over tiles or processes give the summary of all the values: the same
    order statistics and interpolation; the mean and std from exact integer sums, each rounded
    once (all None when empty)."""
    h = [int(c) for c in hist.detach().cpu().tolist()]
    n = sum(h)
    if n == 0:
        return {k: None for k in SUMMARY_KEYS}
    cumulative, running = [], 0
    for c in h:
        running += c
        cumulative.append(running)

    def order_statistic(i: int) -> float:     # the i-th smallest value, i = 0..n-1
        return float(bisect.bisect_right(cumulative, i))

    quantiles = []
    for q in (0.05, 0.5, 0.95):
        pos = q * (n - 1)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        v_lo, v_hi = order_statistic(lo), order_statistic(hi)
        quantiles.append(v_lo + (pos - lo) * (v_hi - v_lo))
    total = sum(k * c for k, c in enumerate(h))
    squares = sum(k * k * c for k, c in enumerate(h))
    # population variance (n sum k^2 - (sum k)^2) / n^2, exact in integers until the division
    variance = Fraction(n * squares - total * total, n * n)
    return dict(zip(SUMMARY_KEYS, [float(Fraction(total, n)), math.sqrt(variance),
                                   order_statistic(0), *quantiles, order_statistic(n - 1)]))


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
