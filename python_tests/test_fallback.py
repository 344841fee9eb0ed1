"""The temporary fallbacks of specbias_ext._fallback against literal definitions (DESIGN.md)."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nets import mlp_configs, random_mlp
from specbias_ext import _fallback as fb
from specbias_ext.reference import activation_patterns, unpack_bits


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: OpenMP threads only add synchronisation (badly so on a shared CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def per_example_gradients(x, weights, biases, grad_out):
    """g_i materialised: the gradient of <grad_out[i], f(x_i)> over all weights and biases."""
    params = [p.detach().clone().requires_grad_(True) for p in list(weights) + list(biases)]
    ws, bs = params[:len(weights)], params[len(weights):]
    rows = []
    for n in range(x.shape[0]):
        a = x[n:n + 1]
        for l, (w, b) in enumerate(zip(ws, bs)):
            a = a @ w.T + b
            if l < len(ws) - 1:
                a = torch.relu(a)
        grads = torch.autograd.grad((a * grad_out[n:n + 1]).sum(), params, allow_unused=True)
        rows.append(torch.cat([g.flatten() for g in grads]))
    if not rows:
        return x.new_zeros((0, sum(p.numel() for p in params)))
    return torch.stack(rows)


def setup(cfg, n=None):
    n = cfg["n"] if n is None else n
    dtype = cfg["dtype"]
    w, b = random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], dtype=dtype,
                      seed=cfg["seed"], dead_fraction=cfg["dead_fraction"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    x = (torch.rand(n, cfg["in_dim"], generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    grad_out = torch.randn(n, cfg["out_dim"], generator=gen, dtype=torch.float64).to(dtype)
    return x, w, b, grad_out, gen


def close(actual, expected):
    tol = 1e-4 if actual.dtype == torch.float32 else 1e-9
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


small = mlp_configs(max_depth=5, max_width=70, max_in=5, max_out=2, max_n=40)


@settings(max_examples=40, deadline=None)
@given(cfg=small)
def test_region_ids_first_appearance(cfg):
    x, w, b, _, gen = setup(cfg)
    # repeat rows so regions have several members
    x = x[torch.randint(0, max(1, x.shape[0]), (x.shape[0],), generator=gen)] if x.shape[0] else x
    p = activation_patterns(x, w, b)
    ids, counts = fb.region_ids(p)
    seen = {}
    for n, row in enumerate(map(tuple, p.tolist())):
        seen.setdefault(row, len(seen))
        assert ids[n].item() == seen[row]
    assert counts.tolist() == [int((ids == r).sum()) for r in range(len(seen))]


@settings(max_examples=40, deadline=None)
@given(cfg=small, num_pairs=st.integers(0, 50))
def test_hamming_and_bit_counts(cfg, num_pairs):
    x, w, b, _, gen = setup(cfg, n=max(cfg["n"], 2))
    p = activation_patterns(x, w, b)
    bits = unpack_bits(p, sum(cfg["hidden"]))
    i = torch.randint(0, x.shape[0], (num_pairs,), generator=gen)
    j = torch.randint(0, x.shape[0], (num_pairs,), generator=gen)
    assert torch.equal(fb.hamming_pairs(p, i, j), (bits[i] != bits[j]).sum(1))
    bounds = [0]
    for h in cfg["hidden"]:
        bounds.append(bounds[-1] + h)
    per_layer = fb.hamming_pairs(p, i, j, bounds)
    for l in range(len(cfg["hidden"])):
        sl = slice(bounds[l], bounds[l + 1])
        assert torch.equal(per_layer[:, l], (bits[i][:, sl] != bits[j][:, sl]).sum(1))
    assert torch.equal(fb.bit_counts(p, bits.shape[1]), bits.sum(0))


def test_hamming_neighbors_1d_and_2d():
    w, b = random_mlp(2, [40, 30], seed=3)
    x = torch.rand(12, 2, dtype=torch.float64)
    p = activation_patterns(x, w, b)
    bits = unpack_bits(p, 70)
    (d0,) = fb.hamming_neighbors(p, [12])
    assert torch.equal(d0, (bits[:-1] != bits[1:]).sum(1))
    down, right = fb.hamming_neighbors(p, [3, 4])
    grid = bits.reshape(3, 4, 70)
    assert torch.equal(down, (grid[:-1] != grid[1:]).sum(2))
    assert torch.equal(right, (grid[:, :-1] != grid[:, 1:]).sum(2))


@settings(max_examples=40, deadline=None)
@given(cfg=small)
def test_grad_norms_and_dots_match_materialised_gradients(cfg):
    x, w, b, grad_out, gen = setup(cfg)
    g = per_example_gradients(x, w, b, grad_out)
    norms = fb.per_example_grad_norms(x, w, b, grad_out)
    assert norms.shape == (x.shape[0], len(w))
    close(norms.sum(1), g.square().sum(1))
    n = x.shape[0]
    i = torch.randint(0, max(n, 1), (15 if n else 0,), generator=gen)
    j = torch.randint(0, max(n, 1), (15 if n else 0,), generator=gen)
    close(fb.grad_dots(x, w, b, grad_out, i, j), (g[i] * g[j]).sum(1))


@settings(max_examples=40, deadline=None)
@given(cfg=small, num_regions=st.integers(1, 6), chunk=st.sampled_from([3, 7, 16384]))
def test_region_grad_norms_match_materialised_gradients(cfg, num_regions, chunk):
    x, w, b, grad_out, gen = setup(cfg)
    n = x.shape[0]
    ids = torch.randint(0, num_regions, (n,), generator=gen)
    old = fb.CHUNK
    fb.CHUNK = chunk          # small chunks exercise the big-region and grouping paths
    try:
        norm_of_sum, sum_of_norms = fb.region_grad_norms(x, w, b, grad_out, ids, num_regions)
    finally:
        fb.CHUNK = old
    g = per_example_gradients(x, w, b, grad_out)
    for r in range(num_regions):
        members = g[ids == r]
        close(sum_of_norms[r], members.norm(dim=1).sum())
        # compare squares: the norm of a nearly cancelling sum is sqrt of a rounding-level value
        scale = float(members.norm(dim=1).sum()) ** 2 + 1
        tol = (1e-5 if x.dtype == torch.float32 else 1e-12) * scale
        torch.testing.assert_close(norm_of_sum[r] ** 2, members.sum(0).norm() ** 2,
                                   rtol=0, atol=tol)


def test_call_matches_the_fallback_whichever_runs():
    w, b = random_mlp(3, [20, 20], seed=1)
    x = torch.rand(30, 3, dtype=torch.float64)
    p = activation_patterns(x, w, b)
    ids, counts = fb.call("region_ids", p)
    ids2, counts2 = fb.region_ids(p)
    assert torch.equal(ids, ids2) and torch.equal(counts, counts2)
    assert fb.backend_used("region_ids") in ("kernel", "fallback")


@settings(max_examples=25, deadline=None)
@given(cfg=small, num_pairs=st.integers(1, 60))
def test_sampled_and_gathered_pair_dots_agree(cfg, num_pairs):
    x, w, b, grad_out, gen = setup(cfg, n=max(cfg["n"], 1))
    a, d = fb.layer_inputs_and_deltas(x, w, b, grad_out)
    pi = torch.randint(0, x.shape[0], (num_pairs,), generator=gen)   # duplicates, any order
    pj = torch.randint(0, x.shape[0], (num_pairs,), generator=gen)
    close(fb._pair_dots_sampled(a, d, pi, pj), fb._pair_dots_gather(a, d, pi, pj))
