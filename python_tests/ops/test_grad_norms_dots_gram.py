"""per_example_grad_norms, grad_dots and grad_gram against materialised torch.func gradients."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import specbias_ext as se
from specbias_ext import ReluNetwork
from specbias_ext import reference as ref
from grad_helpers import as_double, assert_close_scaled, kink_free, make_case, reference_norms
from specbias_ext.testing import random_mlp
from specbias_ext.testing.strategies import mlp_configs

configs = mlp_configs(max_depth=5, max_width=200, max_in=40, max_out=3, max_n=40)


def _comparable(x, net, dtype):
    """bool [N]: points whose float32 result can be compared with float64 (see kink_free)."""
    if dtype == torch.float32:
        return kink_free(x, net)
    return torch.ones(x.shape[0], dtype=torch.bool)


@settings(max_examples=30, deadline=None)
@given(configs)
def test_per_example_grad_norms_match_reference(cfg):
    x, net, go = make_case(cfg)
    ok = _comparable(x, net, cfg["dtype"])
    got = se.per_example_grad_norms(x, net, go)
    assert got.shape == (x.shape[0], len(net.weights)) and got.dtype == x.dtype
    want = reference_norms(x, net, go)
    assert_close_scaled(got[ok], want[ok], want.sum(1, keepdim=True)[ok], cfg["dtype"], "norms")


@settings(max_examples=30, deadline=None)
@given(configs, st.integers(0, 30), st.integers(0, 2**31 - 1))
def test_grad_dots_match_reference(cfg, pairs, seed):
    x, net, go = make_case(cfg)
    ok = _comparable(x, net, cfg["dtype"])
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    pairs = pairs if n > 0 else 0
    i = torch.randint(0, max(n, 1), (pairs,), generator=gen)
    j = torch.randint(0, max(n, 1), (pairs,), generator=gen)
    got = se.grad_dots(x, net, go, i, j)
    assert got.shape == (pairs,) and got.dtype == x.dtype
    want = ref.grad_dots(*as_double(x, net, go), i, j)
    norms = reference_norms(x, net, go).sum(1).sqrt()
    both = ok[i] & ok[j]
    assert_close_scaled(got[both], want[both], (norms[i] * norms[j])[both], cfg["dtype"], "dots")


@settings(max_examples=30, deadline=None)
@given(configs, st.sampled_from(["all", "rows", "both"]), st.integers(0, 2**31 - 1))
def test_grad_gram_matches_reference(cfg, which, seed):
    x, net, go = make_case(cfg)
    ok = _comparable(x, net, cfg["dtype"])
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    rows = cols = None
    if which != "all" and n > 0:
        rows = torch.randint(0, n, (int(torch.randint(0, 2 * n, (1,), generator=gen)),),
                             generator=gen)
        if which == "both":
            cols = torch.randint(0, n, (int(torch.randint(0, 2 * n, (1,), generator=gen)),),
                                 generator=gen)
    got = se.grad_gram(x, net, go, rows, cols)
    want = ref.grad_gram(*as_double(x, net, go), rows, cols)
    assert got.shape == want.shape and got.dtype == x.dtype
    norms = reference_norms(x, net, go).sum(1).sqrt()
    nr = norms if rows is None else norms[rows]
    nc = norms if cols is None else norms[cols]
    ok_r = ok if rows is None else ok[rows]
    ok_c = ok if cols is None else ok[cols]
    assert_close_scaled(got[ok_r][:, ok_c], want[ok_r][:, ok_c],
                        (nr[:, None] * nc[None, :])[ok_r][:, ok_c], cfg["dtype"], "gram")
    if rows is None and cols is None:
        assert torch.equal(got, got.T)


def test_gram_diagonal_and_dots_agree_with_norms():
    net = ReluNetwork.of(*random_mlp(3, [64, 65], out_dim=2, seed=3))
    x = torch.rand(200, 3, dtype=torch.float64)
    go = torch.randn(200, 2, dtype=torch.float64)
    norms = se.per_example_grad_norms(x, net, go).sum(1)
    gram = se.grad_gram(x, net, go)
    idx = torch.arange(200)
    torch.testing.assert_close(gram.diagonal(), norms)
    torch.testing.assert_close(se.grad_dots(x, net, go, idx, idx), norms)
    torch.testing.assert_close(se.grad_dots(x, net, go, idx, idx.flip(0)),
                               gram[idx, idx.flip(0)])


def test_larger_n_one_hidden_layer_wide():
    """N = 512 (more than one tile), a single hidden layer of width 200, 3 outputs."""
    net = ReluNetwork.of(*random_mlp(40, [200], out_dim=3, seed=5))
    x = torch.rand(512, 40, dtype=torch.float64)
    go = torch.randn(512, 3, dtype=torch.float64)
    want = ref.per_example_grad_norms(x, net, go)
    torch.testing.assert_close(se.per_example_grad_norms(x, net, go), want)
    rows = torch.arange(0, 512, 3)
    cols = torch.arange(1, 512, 2)
    torch.testing.assert_close(se.grad_gram(x, net, go, rows, cols),
                               ref.grad_gram(x, net, go, rows, cols))


def test_all_dead_layer_zeroes_gradients_below_it():
    weights, biases = random_mlp(4, [30, 20, 10], out_dim=1, seed=7)
    biases[1] = torch.full_like(biases[1], -1e6)  # hidden layer 1 dead everywhere
    net = ReluNetwork.of(weights, biases)
    x = torch.rand(50, 4, dtype=torch.float64)
    go = torch.randn(50, 1, dtype=torch.float64)
    norms = se.per_example_grad_norms(x, net, go)
    assert torch.all(norms[:, :2] == 0)
    torch.testing.assert_close(norms, ref.per_example_grad_norms(x, net, go))
    assert torch.all(norms[:, 3] > 0)


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_n(n):
    net = ReluNetwork.of(*random_mlp(2, [7], out_dim=2, seed=1))
    x = torch.rand(n, 2, dtype=torch.float64)
    go = torch.randn(n, 2, dtype=torch.float64)
    assert se.per_example_grad_norms(x, net, go).shape == (n, 2)
    assert se.grad_gram(x, net, go).shape == (n, n)
    idx = torch.zeros(n, dtype=torch.long)
    assert se.grad_dots(x, net, go, idx, idx).shape == (n,)
    if n == 1:
        torch.testing.assert_close(se.grad_gram(x, net, go),
                                   ref.grad_gram(x, net, go))


def test_float32_within_1e4_of_float64_on_benchmark_sizes():
    """N = 4096, 32-d input, MLP 4x256: norms; Gram on 1024 points of a 4x128 MLP."""
    gen = torch.Generator().manual_seed(0)
    net = ReluNetwork.of(*random_mlp(32, [256] * 4, out_dim=1, seed=11))
    x = torch.rand(4096, 32, generator=gen, dtype=torch.float64)
    go = torch.randn(4096, 1, generator=gen, dtype=torch.float64)
    net32 = net.to(torch.float32)
    x32, go32 = x.float(), go.float()
    ok = kink_free(x32, net32, rel=1e-6)
    assert ok.float().mean() > 0.9
    n64 = se.per_example_grad_norms(*as_double(x32, net32, go32))
    n32 = se.per_example_grad_norms(x32, net32, go32)
    rel = ((n32.double() - n64).abs().sum(1) / n64.sum(1))[ok]
    assert rel.max() < 1e-4, float(rel.max())

    net = ReluNetwork.of(*random_mlp(32, [128] * 4, out_dim=1, seed=12))
    net32 = net.to(torch.float32)
    x32, go32 = x32[:1024], go32[:1024]
    ok = kink_free(x32, net32, rel=1e-6)
    g64 = se.grad_gram(*as_double(x32, net32, go32))
    g32 = se.grad_gram(x32, net32, go32)
    d = g64.diagonal().sqrt()
    err = (g32.double() - g64).abs() / (d[:, None] * d[None, :])
    assert err[ok][:, ok].max() < 1e-4, float(err[ok][:, ok].max())
