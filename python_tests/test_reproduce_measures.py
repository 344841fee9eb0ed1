"""The experiments' own measurements and the torch paths used while an op kernel is missing,
against brute force."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext import claims as C
from specbias_ext import reference
from specbias_ext.experiments import fallback, opcalls
from specbias_ext.experiments.measures import (boundary_distance, hyperplane_cosines,
                                               layer_spectral_norms, radial_band_residual_2d,
                                               spectral_residual_1d)
from nets import random_mlp


def per_example_grads(x, weights, biases, grad_out):
    """Materialised per-example gradients [N, P] by autograd, one example at a time."""
    params = [t.clone().requires_grad_(True) for t in list(weights) + list(biases)]
    ws, bs = params[:len(weights)], params[len(weights):]
    rows = []
    for n in range(x.shape[0]):
        a = x[n:n + 1]
        for l, (w, b) in enumerate(zip(ws, bs)):
            a = a @ w.T + b
            if l < len(ws) - 1:
                a = torch.relu(a)
        g = torch.autograd.grad((a * grad_out[n:n + 1]).sum(), params, allow_unused=True)
        rows.append(torch.cat([gi.reshape(-1) for gi in g]))
    return torch.stack(rows)


@settings(max_examples=30, deadline=None)
@given(depth=st.integers(1, 3), width=st.integers(1, 70), n=st.integers(2, 12),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 1000),
       dead=st.sampled_from([0.0, 1.0]))
def test_torch_grad_paths_match_autograd(depth, width, n, dtype, seed, dead):
    w, b = random_mlp(3, [width] * depth, out_dim=2, dtype=torch.float64, seed=seed,
                      dead_fraction=dead)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    g_out = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    g = per_example_grads(x, w, b, g_out)
    i = torch.arange(n)
    j = torch.flip(i, [0])
    acts, deltas = opcalls._forward_backward(x, w, b, g_out)
    norms = torch.stack([(d * d).sum(1) * ((a * a).sum(1) + 1) for a, d in zip(acts, deltas)], 1)
    torch.testing.assert_close(norms.sum(1), (g * g).sum(1))
    dots = sum((d[i] * d[j]).sum(1) * ((a[i] * a[j]).sum(1) + 1) for a, d in zip(acts, deltas))
    torch.testing.assert_close(dots, (g[i] * g[j]).sum(1))
    conf = opcalls.confusion_pairs(x, w, b, g_out, i, j)
    gn = g.norm(dim=1)
    expect = torch.where(gn[i] * gn[j] > 0, (g[i] * g[j]).sum(1) / (gn[i] * gn[j]).clamp_min(1e-300),
                         torch.zeros(n, dtype=torch.float64))
    torch.testing.assert_close(conf, expect)
    # float32 through the same path agrees to float32 precision
    conf32 = opcalls.confusion_pairs(x.to(dtype), [t.to(dtype) for t in w],
                                     [t.to(dtype) for t in b], g_out.to(dtype), i, j)
    torch.testing.assert_close(conf32.double(), expect, rtol=1e-4, atol=1e-4)
    assert torch.all(conf.abs() <= 1 + 1e-9)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 60), bits=st.integers(1, 150), seed=st.integers(0, 1000))
def test_torch_region_paths_match_brute_force(n, bits, seed):
    gen = torch.Generator().manual_seed(seed)
    dense = torch.rand(n, bits, generator=gen) < 0.5
    dense[n // 2:] = dense[: n - n // 2].clone()                    # repeated rows
    p = reference.pack_bits(dense)
    ids, counts = opcalls._region_ids_torch(p)
    seen = {}
    for r in range(n):
        seen.setdefault(tuple(dense[r].tolist()), len(seen))
        assert ids[r] == seen[tuple(dense[r].tolist())]
    assert counts.tolist() == [sum(1 for r in range(n) if ids[r] == k) for k in range(len(seen))]
    assert opcalls._bits(p, 0, bits).sum(0).tolist() == dense.sum(0).tolist()
    if n >= 2:
        i, j = torch.arange(n - 1), torch.arange(1, n)
        x = p[i] ^ p[j]
        assert opcalls._popcount_words(x).tolist() == (dense[i] != dense[j]).sum(1).tolist()


def test_boundary_distance_is_exact_for_one_hidden_layer():
    w, b = random_mlp(1, [17], dtype=torch.float64, seed=3)
    coords = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    enc = fallback.RawEncoding(1)
    d = boundary_distance(coords, enc, w, b)
    z = coords @ w[0].T + b[0]
    torch.testing.assert_close(d, (z.abs() / w[0][:, 0].abs()).min(1).values)


def test_boundary_distance_pe_uses_chain_rule():
    w, b = random_mlp(4, [5], dtype=torch.float64, seed=4)
    coords = torch.rand(9, 1, dtype=torch.float64)
    enc = fallback.PositionalEncoding(1, 2)
    z = enc(coords) @ w[0].T + b[0]
    h = 1e-6
    dz = (enc(coords + h) @ w[0].T - enc(coords - h) @ w[0].T) / (2 * h)
    torch.testing.assert_close(boundary_distance(coords, enc, w, b),
                               (z.abs() / dz.abs()).min(1).values, rtol=1e-6, atol=1e-9)


def test_spectral_residuals():
    y = fallback.sum_of_sines(256, (3, 9)).y
    assert torch.allclose(spectral_residual_1d(y, y, [3, 9]), torch.zeros(2))
    torch.testing.assert_close(spectral_residual_1d(torch.zeros(256), y, [3, 9]), torch.ones(2))
    img = torch.rand(16, 16)
    assert torch.allclose(radial_band_residual_2d(img, img, 4), torch.zeros(4))
    torch.testing.assert_close(radial_band_residual_2d(torch.zeros(16, 16), img, 4),
                               torch.ones(4))


def test_norms_and_cosines():
    w = [torch.diag(torch.tensor([3.0, 1.0])), torch.eye(2)]
    torch.testing.assert_close(layer_spectral_norms(w), torch.tensor([3.0, 1.0]))
    cos = hyperplane_cosines(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(cos, torch.tensor([1 / math.sqrt(2), 0.0, 0.0]))


def test_fallback_contract_pieces():
    c = fallback.grid_coords((4,), (-1.0, 1.0))
    assert c[:, 0].tolist() == [-1.0, -0.5, 0.0, 0.5]
    c2 = fallback.grid_coords((2, 3))
    assert c2.shape == (6, 2) and c2[1].tolist() == [0.0, pytest.approx(1 / 3)]
    with pytest.raises(ValueError, match="shape"):
        fallback.grid_coords((1,))
    pe = fallback.PositionalEncoding(2, 3)(torch.tensor([[0.25, 0.5]]))
    assert pe.shape == (1, 12)
    assert pe[0, 2].item() == pytest.approx(math.sin(2 * math.pi * 0.25))   # coord 0, level 1, sin
    assert pe[0, 7].item() == pytest.approx(math.cos(math.pi * 0.5), abs=1e-6)  # coord 1, level 0, cos
    i, j = fallback.local_pairs_1d(500, 4, 20, 30, seed=1)
    assert len(i) == 120 and torch.all(i != j) and torch.all((i - j).abs() < 20)
    i, j = fallback.global_pairs_1d(100, 50, 0.4)
    assert torch.all(i < 40) and torch.all(j >= 60)
    i, j = fallback.local_pairs_2d((10, 12), 3, 4, 10)
    assert torch.all(i != j) and torch.all((i // 12 - j // 12).abs() < 4)
    i, j = fallback.corner_pairs_2d((20, 20), 30, 0.25)
    assert torch.all(i // 20 < 5) and torch.all(j // 20 >= 15) and torch.all(j % 20 >= 15)
    with pytest.raises(ValueError, match="pairs"):
        fallback.local_pairs_1d(100, 1, 3, 7)


def test_claims_are_computed_not_set():
    assert C.in_range("e", "c", "s", "x", [1.0, 2.0], 0, 2).held
    assert not C.in_range("e", "c", "s", "x", [3.0, 2.5], 0, 2).held
    assert C.greater("e", "c", "s", "a", [2, 3], "b", [1, 1]).held
    assert not C.greater("e", "c", "s", "a", [1], "b", [1]).held
    assert C.ordered("e", "c", "s", [("a", [1]), ("b", [2]), ("c", [3])], "increasing").held
    assert not C.ordered("e", "c", "s", [("a", [1]), ("b", [3]), ("c", [2])], "increasing").held
    assert C.ordered("e", "c", "s", [("a", [3]), ("b", [3])], "decreasing", strict=False).held
    s = C.stats([1.0, 3.0])
    assert s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["n"] == 2


@pytest.mark.parametrize("spec", ["raw", "pe:4", "pe:12"])
def test_fused_boundary_distance_matches_forward_mode_torch(spec):
    from specbias_ext.encodings import make_encoding
    from specbias_ext.experiments import layer

    w, b = random_mlp(2 * 12 if spec == "pe:12" else (8 if spec == "pe:4" else 1), [20, 13],
                      dtype=torch.float64, seed=7)
    enc = make_encoding(spec, 1)
    coords = torch.rand(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(layer.boundary_distance(coords, enc, w, b),
                               boundary_distance(coords, enc, w, b), rtol=1e-9, atol=1e-12)
