"""Frequency-resolved fitting error: the 1D spectral residual and 2D radial-band residuals.

Both are computed in float64 with torch.fft (on the tensors' device) and returned as float64.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

Tensor = torch.Tensor


def _as_1d(t: Tensor, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.dim() != 1:
        raise ValueError(f"{name}: expected shape [N] or [N, 1], got {list(t.shape)}")
    return t.to(torch.float64)


def spectral_residual_1d(fit: Tensor, target: Tensor, freqs: Sequence[int]) -> Tensor:
    """``|DFT(fit - target)(k)| / |DFT(target)(k)|`` for each k in ``freqs`` (float64 [K]).

    0 means frequency k is fitted exactly, 1 means none of it is (or an error of the same size).
    ``fit`` and ``target`` are samples on the uniform grid t = n/N ([N] or [N, 1]); frequencies
    are integer DFT bins 0 <= k <= N/2, and the target must have energy at each of them.
    """
    f, y = _as_1d(fit, "fit"), _as_1d(target, "target")
    if f.shape != y.shape:
        raise ValueError(f"fit: shape {list(fit.shape)} does not match target {list(target.shape)}")
    n = y.shape[0]
    ks = [int(k) for k in freqs]
    if any(k != kf for k, kf in zip(ks, freqs)) or any(not 0 <= k <= n // 2 for k in ks):
        raise ValueError(f"freqs: expected integer DFT bins in 0..{n // 2}, got {list(freqs)}")
    idx = torch.tensor(ks, dtype=torch.int64, device=y.device)
    target_amp = torch.fft.rfft(y).abs()[idx]
    scale = y.abs().sum()
    if bool((target_amp <= 1e-9 * scale).any()) or float(scale) == 0.0:
        empty = [k for k, a in zip(ks, target_amp.tolist()) if a <= 1e-9 * float(scale)]
        raise ValueError(f"target: has no energy at frequencies {empty}; the residual there "
                         "is undefined")
    return torch.fft.rfft(f - y).abs()[idx] / target_amp


def radial_band_index(shape: Sequence[int], num_bands: int, device="cpu") -> Tensor:
    """int64 [H, W]: the band of every bin of a 2D DFT (torch.fft.fft2 layout).

    The radius of bin (u, v) is ``sqrt(fu^2 + fv^2) / sqrt(0.5)`` with fu, fv the frequencies in
    cycles per sample (torch.fft.fftfreq), so 0 is DC and 1 the corner (Nyquist on both axes);
    [0, 1] is cut into ``num_bands`` equal-width bands (band b: b/B <= radius < (b+1)/B, the
    corner itself in the last band).
    """
    h, w = (int(s) for s in shape)
    if isinstance(num_bands, bool) or int(num_bands) != num_bands or num_bands < 1:
        raise ValueError(f"num_bands: expected an int >= 1, got {num_bands!r}")
    fu = torch.fft.fftfreq(h, dtype=torch.float64, device=device)
    fv = torch.fft.fftfreq(w, dtype=torch.float64, device=device)
    radius = torch.sqrt(fu[:, None] ** 2 + fv[None, :] ** 2) / math.sqrt(0.5)
    return torch.clamp((radius * num_bands).floor().to(torch.int64), max=int(num_bands) - 1)


def radial_band_edges(num_bands: int) -> list[tuple[float, float]]:
    """``(lo, hi)`` radial frequency of each band of ``radial_band_index`` in cycles per sample
    (|f| = sqrt(fu^2 + fv^2)): band b covers ``[b, b + 1) * sqrt(0.5) / num_bands``, the last
    band ending at the corner (0.5 cycles per sample on both axes)."""
    if isinstance(num_bands, bool) or int(num_bands) != num_bands or num_bands < 1:
        raise ValueError(f"num_bands: expected an int >= 1, got {num_bands!r}")
    step = math.sqrt(0.5) / int(num_bands)
    return [(b * step, (b + 1) * step) for b in range(int(num_bands))]


def _as_hwc(t: Tensor, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if t.dim() == 2:
        t = t.unsqueeze(2)
    if t.dim() != 3:
        raise ValueError(f"{name}: expected shape [H, W] or [H, W, C], got {list(t.shape)}")
    return t.to(torch.float64)


def radial_band_residual_2d(fit: Tensor, target: Tensor, num_bands: int) -> Tensor:
    """Residual power / target power in each radial band of the 2D DFT (float64 [num_bands]).

    Power is |fft2|^2 summed over the band's bins and over channels. A band whose target power
    is 0 gives NaN; a band with no DFT bin at all (num_bands too large for the image) is an error.
    """
    f, y = _as_hwc(fit, "fit"), _as_hwc(target, "target")
    if f.shape != y.shape:
        raise ValueError(f"fit: shape {list(fit.shape)} does not match target {list(target.shape)}")
    h, w = y.shape[:2]
    bands = radial_band_index((h, w), num_bands, device=y.device).reshape(-1)
    occupancy = torch.bincount(bands, minlength=num_bands)
    if bool((occupancy == 0).any()):
        raise ValueError(f"num_bands: {num_bands} bands leave some band without DFT bins for a "
                         f"{h}x{w} image; use fewer bands")

    def band_power(signal):
        power = torch.fft.fft2(signal, dim=(0, 1)).abs().square().sum(dim=2).reshape(-1)
        return torch.zeros(num_bands, dtype=torch.float64, device=y.device).index_add_(
            0, bands, power)

    target_power = band_power(y)
    residual_power = band_power(f - y)
    return torch.where(target_power > 0, residual_power / target_power,
                       torch.full_like(target_power, float("nan")))
