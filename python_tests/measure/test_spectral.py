import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.data.signals import sum_of_sines
from specbias_ext.measure.spectral import (
    radial_band_index, radial_band_residual_2d, spectral_residual_1d,
)


@settings(max_examples=30, deadline=None)
@given(n=st.sampled_from([64, 200, 2048]), chosen=st.integers(0, 13), seed=st.integers(0, 99))
def test_removing_one_sinusoid_gives_one_there_zero_elsewhere(n, chosen, seed):
    freqs = [k for k in range(5, 75, 5) if k < n // 2]
    chosen = chosen % len(freqs)
    sig = sum_of_sines(n, freqs, seed=seed, dtype=torch.float64)
    t = sig.t
    k = freqs[chosen]
    component = torch.sin(2 * math.pi * k * t + 2 * math.pi * sig.phases[chosen])
    res = spectral_residual_1d(sig.y - component, sig.y, freqs)
    expected = torch.zeros(len(freqs), dtype=torch.float64)
    expected[chosen] = 1.0
    torch.testing.assert_close(res, expected, atol=1e-9, rtol=0)


def test_scaled_fit_and_shapes():
    sig = sum_of_sines(256, (4, 9), dtype=torch.float64)
    res = spectral_residual_1d(0.25 * sig.target(), sig.target(), sig.freqs)
    torch.testing.assert_close(res, torch.full((2,), 0.75, dtype=torch.float64))
    with pytest.raises(ValueError, match="target"):
        spectral_residual_1d(sig.y, sig.y, [5])          # no energy at k = 5
    with pytest.raises(ValueError, match="freqs"):
        spectral_residual_1d(sig.y, sig.y, [200])
    with pytest.raises(ValueError, match="fit"):
        spectral_residual_1d(sig.y[:10], sig.y, [4])


def test_radial_bands_cover_the_spectrum():
    idx = radial_band_index((16, 20), 5)
    assert idx.shape == (16, 20) and int(idx[0, 0]) == 0 and int(idx[8, 10]) == 4
    assert set(idx.flatten().tolist()) == set(range(5))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(8, 40), bands=st.integers(1, 4),
       seed=st.integers(0, 99))
def test_band_residual_definition(h, w, bands, seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(h, w, 2, generator=gen, dtype=torch.float64)
    fit = target + 0.1 * torch.randn(h, w, 2, generator=gen, dtype=torch.float64)
    res = radial_band_residual_2d(fit, target, bands)
    idx = radial_band_index((h, w), bands)
    ft, fr = torch.fft.fft2(target, dim=(0, 1)), torch.fft.fft2(fit - target, dim=(0, 1))
    for b in range(bands):
        sel = idx == b
        expected = fr.abs().square()[sel].sum() / ft.abs().square()[sel].sum()
        assert float(res[b]) == pytest.approx(float(expected), rel=1e-9)
    torch.testing.assert_close(radial_band_residual_2d(target, target, bands),
                               torch.zeros(bands, dtype=torch.float64))


def test_low_pass_fit_leaves_high_bands():
    h = w = 32
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(h, w, generator=gen, dtype=torch.float64)
    spec = torch.fft.fft2(target)
    idx = radial_band_index((h, w), 4)
    fit = torch.fft.ifft2(torch.where(idx < 2, spec, torch.zeros_like(spec))).real
    res = radial_band_residual_2d(fit, target, 4)
    torch.testing.assert_close(res, torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64),
                               atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="num_bands"):
        radial_band_residual_2d(fit, target, 100)
