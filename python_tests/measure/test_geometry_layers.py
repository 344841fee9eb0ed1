"""hyperplane_cosines against an explicit per-pair loop; SpectralNormTracker against svdvals."""
import math

import pytest
import torch

from specbias_ext.measure import params


def _loop_cosines(normals):
    out = normals.shape[0]
    cos = torch.zeros(out, out, dtype=normals.dtype)
    for i in range(out):
        for j in range(out):
            ni, nj = normals[i].norm(), normals[j].norm()
            if ni > 0 and nj > 0:
                cos[i, j] = torch.dot(normals[i], normals[j]) / (ni * nj)
    return cos


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("with_bias", [False, True])
def test_hyperplane_cosines_against_loop(dtype, with_bias):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(13, 5, generator=gen, dtype=dtype)
    b = torch.randn(13, generator=gen, dtype=dtype)
    w[3] = 0  # zero normal without bias; with bias it is [0, b3]
    w[7] = 2.5 * w[1]  # parallel normals
    b[7] = 2.5 * b[1]
    cos = params.hyperplane_cosine_matrix(w, b if with_bias else None)
    normals = torch.cat([w, b[:, None]], 1) if with_bias else w
    expected = _loop_cosines(normals.double()).to(dtype)
    torch.testing.assert_close(cos, expected, rtol=1e-5, atol=1e-6)
    assert math.isclose(float(cos[1, 7]), 1.0, abs_tol=1e-5)
    if not with_bias:
        assert (cos[3] == 0).all() and (cos[:, 3] == 0).all()
    offdiag = expected.abs().sum() - expected.diagonal().abs().sum()
    torch.testing.assert_close(params.mean_abs_offdiag_cosine(cos),
                               (offdiag / (13 * 12)).to(dtype), rtol=1e-5, atol=1e-6)


def test_hyperplane_cosine_errors_and_single_neuron():
    assert math.isnan(float(params.mean_abs_offdiag_cosine(torch.ones(1, 1))))
    with pytest.raises(ValueError, match="weight: expected a 2-D tensor"):
        params.hyperplane_cosine_matrix(torch.ones(3))
    with pytest.raises(ValueError, match=r"bias: expected shape \[3\]"):
        params.hyperplane_cosine_matrix(torch.ones(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match="cosines: expected a square matrix"):
        params.mean_abs_offdiag_cosine(torch.ones(3, 2))


def _layers(gen, dtype):
    shapes = [(96, 16), (96, 96), (96, 96), (1, 96)]
    return [torch.randn(*s, generator=gen, dtype=dtype) / math.sqrt(s[1]) for s in shapes]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spectral_tracker_follows_training_like_drift(dtype):
    """Cold start, then 20 'epochs' of small random drift with 4 warm iterations each: every
    estimate is within rel 1e-3 of svdvals, and never above it."""
    gen = torch.Generator().manual_seed(1)
    weights = _layers(gen, dtype)
    tracker = params.SpectralNormTracker(iters=4)
    for epoch in range(21):
        if epoch:
            weights = [w + 0.01 * torch.randn(w.shape, generator=gen, dtype=dtype)
                       / math.sqrt(w.shape[1]) for w in weights]
        sigmas, product = tracker.update(weights)
        exact = torch.stack([torch.linalg.svdvals(w.double())[0] for w in weights])
        torch.testing.assert_close(sigmas.double(), exact, rtol=1e-3, atol=0)
        assert (sigmas.double() <= exact * (1 + 1e-5)).all()
        torch.testing.assert_close(product, sigmas.prod())
    assert sigmas.shape == (4,) and sigmas.dtype == dtype


def test_spectral_tracker_warm_start_needs_few_iterations():
    """256x256 Gaussian layer (top singular values nearly tied: the hard case for power
    iteration): after a drift, one warm iteration is within rel 1e-3, while one iteration from a
    random start is not."""
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(256, 256, generator=gen, dtype=torch.float64) / math.sqrt(256)
    tracker = params.SpectralNormTracker(iters=1)
    torch.testing.assert_close(tracker.update([w])[0][0], torch.linalg.svdvals(w)[0])
    w2 = w + 1e-2 * torch.randn(256, 256, generator=gen, dtype=torch.float64) / math.sqrt(256)
    exact = torch.linalg.svdvals(w2)[0]
    warm_err = abs(float(tracker.update([w2])[0][0] / exact - 1))
    v = torch.randn(256, generator=gen, dtype=torch.float64)
    v = w2.T @ (w2 @ (v / v.norm()))
    cold_err = abs(float((w2 @ (v / v.norm())).norm() / exact - 1))
    assert warm_err < 1e-3 and cold_err > 10 * warm_err


def test_spectral_tracker_shape_change_and_zero_layer():
    tracker = params.SpectralNormTracker()
    a = torch.diag(torch.tensor([3.0, 1.0, 0.5]))
    sig, prod = tracker.update([a, torch.zeros(2, 3)])
    torch.testing.assert_close(sig, torch.tensor([3.0, 0.0]))
    assert float(prod) == 0.0
    sig, _ = tracker.update([torch.diag(torch.tensor([2.0, 5.0]))])  # new shape: restarted
    torch.testing.assert_close(sig, torch.tensor([5.0]))
    with pytest.raises(ValueError, match="weights: expected at least one layer"):
        tracker.update([])
