import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.testing import random_mlp

from specbias_ext.testing.strategies import mlp_configs
from specbias_ext import ReluNetwork, activation_patterns, num_pattern_words, reference

# Mostly small N, sometimes up to 5000 (several CPU tiles), and the edge cases 0 and 1.
point_counts = st.one_of(st.integers(0, 200), st.integers(0, 200), st.integers(0, 200),
                         st.sampled_from([0, 1]), st.integers(200, 5000))


def unused_bits_are_zero(patterns, hidden_total):
    used = hidden_total % 64
    if used == 0 or patterns.shape[0] == 0:
        return True
    # Arithmetic shift: a set sign bit leaves a non-zero result too.
    return bool(torch.all((patterns[:, -1] >> used) == 0))


def assert_matches_reference(x, net):
    """Bits equal the reference's, except where a pre-activation is within rounding of 0.

    The kernel computes z with addmm on tiles and the reference with a @ W.T + b on all rows; the
    two round differently, so a z within a few ulps of 0 may get either sign. Every disagreement
    must be such a z (bounded by the dot product's error estimate), and exact zeros are covered
    bit-exactly by test_exact_arithmetic_is_bit_exact.
    """
    got = activation_patterns(x, net)
    weights, biases = net.weights, net.biases
    h = net.num_hidden
    assert got.dtype == torch.int64 and got.shape == (x.shape[0], num_pattern_words(weights))
    assert unused_bits_are_zero(got, h)
    expect = reference.activation_patterns(x, net)
    if torch.equal(got, expect):
        return
    eps = torch.finfo(x.dtype).eps
    zs, scales, a = [], [], x
    for w, b in zip(weights[:-1], biases[:-1]):
        z = a @ w.T + b
        zs.append(z)
        scales.append(a.abs() @ w.abs().T + b.abs())
        a = torch.relu(z)
    z, scale = torch.cat(zs, 1), torch.cat(scales, 1)
    differ = reference.unpack_bits(got, h) != reference.unpack_bits(expect, h)
    bound = 64 * (x.shape[1] + max(w.shape[1] for w in weights)) * eps * (scale + 1)
    assert torch.all(z[differ].abs() <= bound[differ]), "a bit differs at a clearly signed z"


@settings(max_examples=40, deadline=None)
@given(mlp_configs(max_n=0), point_counts)
def test_matches_reference_on_random_networks(cfg, n):
    net = ReluNetwork.of(*random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], cfg["dtype"],
                                     cfg["seed"], cfg["dead_fraction"]))
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    x = torch.randn(n, cfg["in_dim"], generator=gen, dtype=torch.float64).to(cfg["dtype"])
    assert_matches_reference(x, net)


def integer_network(cfg, n, slopes=None):
    """Weights and biases in {-1, 0, 1}, n inputs in {-2, ..., 2}: with ReLU or a power-of-two
    slope every z is exact (a dyadic rational), many exactly 0."""
    gen = torch.Generator().manual_seed(cfg["seed"])
    dims = [cfg["in_dim"]] + cfg["hidden"] + [cfg["out_dim"]]
    weights = [torch.randint(-1, 2, (dims[l + 1], dims[l]), generator=gen).to(cfg["dtype"])
               for l in range(len(dims) - 1)]
    biases = [torch.randint(-1, 2, (dims[l + 1],), generator=gen).to(cfg["dtype"])
              for l in range(len(dims) - 1)]
    x = torch.randint(-2, 3, (n, cfg["in_dim"]), generator=gen).to(cfg["dtype"])
    return x, ReluNetwork.of(weights, biases, slopes)


@settings(max_examples=40, deadline=None)
@given(mlp_configs(max_n=0, max_width=130), st.integers(0, 400))
def test_exact_arithmetic_is_bit_exact(cfg, n):
    x, net = integer_network(cfg, n)
    assert torch.equal(activation_patterns(x, net), reference.activation_patterns(x, net))


@settings(max_examples=30, deadline=None)
@given(mlp_configs(max_depth=4, max_width=70, max_n=0), st.integers(0, 400),
       st.sampled_from([0.5, 0.25, -0.5]))
def test_exact_arithmetic_leaky_is_bit_exact(cfg, n, slope):
    """LeakyReLU (the kernel's branch-free select, vectorised over a row and its scalar tail):
    negative and zero pre-activations scaled exactly, so every later layer's bits match. (Depth
    and width kept small so that float32 still holds every z exactly.)"""
    x, net = integer_network(cfg, n, [slope] * len(cfg["hidden"]))
    assert torch.equal(activation_patterns(x, net), reference.activation_patterns(x, net))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_preactivation_gives_bit_zero(dtype):
    net = ReluNetwork.of(*random_mlp(3, [70, 64, 5], dtype=dtype, zero_bias=True, seed=1))
    x = torch.randn(10, 3, dtype=dtype)
    x[[0, 4, 9]] = 0.0
    got = activation_patterns(x, net)
    assert torch.all(got[[0, 4, 9]] == 0)
    assert torch.any(got[1] != 0)


def test_all_dead_neurons():
    net = ReluNetwork.of(*random_mlp(4, [100, 30], dead_fraction=1.0, seed=2))
    got = activation_patterns(torch.rand(50, 4, dtype=torch.float64), net)
    assert got.shape == (50, 3) and torch.all(got == 0)


@pytest.mark.parametrize("width", [1, 63, 64, 65, 127, 128, 300])
def test_word_boundaries(width):
    net = ReluNetwork.of(*random_mlp(2, [width, width], seed=width))
    x = torch.randn(300, 2, dtype=torch.float64)
    assert_matches_reference(x, net)


def test_non_contiguous_x():
    net = ReluNetwork.of(*random_mlp(5, [90, 40], dtype=torch.float32, seed=3))
    big = torch.randn(600, 10)
    x = big[::2, ::2]
    xt = torch.randn(5, 300).T
    assert not x.is_contiguous() and not xt.is_contiguous()
    assert torch.equal(activation_patterns(x, net),
                       activation_patterns(x.contiguous(), net))
    assert torch.equal(activation_patterns(xt, net),
                       activation_patterns(xt.contiguous(), net))


def test_non_contiguous_weights():
    net = ReluNetwork.of(*random_mlp(5, [90, 40], seed=4))
    wt = ReluNetwork.of([w.T.contiguous().T for w in net.weights], net.biases)
    x = torch.randn(200, 5, dtype=torch.float64)
    assert torch.equal(activation_patterns(x, wt), activation_patterns(x, net))


def test_independent_of_thread_count():
    net = ReluNetwork.of(*random_mlp(8, [200, 200], dtype=torch.float32, seed=6))
    x = torch.randn(3000, 8)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = activation_patterns(x, net)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, activation_patterns(x, net))


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def test_big_grid_memory_stays_near_output_size():
    """200k points through 2x256: a plain forward holds 195 MiB per layer; the tiled kernel must
    stay within the 12 MiB output plus a small working set (resident-set high-water mark)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
    except OSError:
        pytest.skip("cannot reset the resident-set high-water mark here (/proc/self/clear_refs)")
    net = ReluNetwork.of(*random_mlp(8, [256, 256], dtype=torch.float32, seed=7))
    x = torch.rand(200_000, 8)
    output_mib = 200_000 * 8 * 8 / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _rss_kib("VmRSS")
    out = activation_patterns(x, net)
    peak_mib = (_rss_kib("VmHWM") - before) / 1024
    assert out.shape == (200_000, 8)
    assert peak_mib < output_mib + 48, f"peak {peak_mib:.1f} MiB for a {output_mib:.1f} MiB output"


def test_ops_accept_parameters_that_require_grad():
    """Users pass model.parameters() straight in; the ops must not try to record a graph."""
    import specbias_ext as se
    from torch import nn
    model = nn.Sequential(nn.Linear(2, 70), nn.ReLU(), nn.Linear(70, 1))
    net = se.relu_network(model)
    assert net.weights[0].requires_grad
    x = torch.rand(5000, 2)  # several tiles, so worker threads run too
    patterns = se.activation_patterns(x, net)
    assert torch.equal(patterns, se.reference.activation_patterns(x, net.detach()))
    norms = se.per_example_grad_norms(x, net, torch.ones(5000, 1))
    assert not norms.requires_grad and norms.shape == (5000, 2)
    coords_enc = (torch.eye(2), torch.zeros(2), torch.zeros(2, dtype=torch.bool))
    dist, _ = se.ops.boundary_distance(x, coords_enc, net)
    assert not dist.requires_grad and dist.shape == (5000,)
