import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.testing import random_mlp

from specbias_ext.testing.strategies import mlp_configs
from specbias_ext.testing.patterns import random_words
from specbias_ext.testing.strategies import pattern_tensors
from specbias_ext import (
    ReluNetwork, activation_patterns, hamming_neighbors, hamming_pairs, hamming_pairs_per_layer,
    reference,
)


def random_pairs(n, p, seed):
    gen = torch.Generator().manual_seed(seed)
    if n == 0:
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
    return torch.randint(0, n, (p,), generator=gen), torch.randint(0, n, (p,), generator=gen)


@settings(max_examples=50, deadline=None)
@given(pattern_tensors(max_n=300), st.integers(0, 400), st.integers(0, 2**31 - 1))
def test_hamming_pairs_match_reference(patterns, p, seed):
    i, j = random_pairs(patterns.shape[0], p, seed)
    d = hamming_pairs(patterns, i, j)
    assert d.dtype == torch.int64 and d.shape == (i.shape[0],)
    assert torch.equal(d, reference.hamming_pairs(patterns, i, j))
    assert torch.all(hamming_pairs(patterns, i, i) == 0)
    assert torch.equal(d, hamming_pairs(patterns, j, i))


@settings(max_examples=50, deadline=None)
@given(pattern_tensors(max_n=200), st.integers(0, 200), st.integers(0, 2**31 - 1),
       st.data())
def test_hamming_segments_match_reference(patterns, p, seed, data):
    bits = patterns.shape[1] * 64
    cuts = sorted(data.draw(st.lists(st.integers(0, bits), min_size=2, max_size=7)))
    i, j = random_pairs(patterns.shape[0], p, seed)
    d = hamming_pairs(patterns, i, j, cuts)
    assert d.shape == (i.shape[0], len(cuts) - 1)
    assert torch.equal(d, reference.hamming_pairs(patterns, i, j, cuts))
    if cuts[0] == 0 and cuts[-1] == bits:
        assert torch.equal(d.sum(dim=1), hamming_pairs(patterns, i, j))


@settings(max_examples=30, deadline=None)
@given(mlp_configs(max_n=300, max_width=200))
def test_per_layer_sums_to_full_distance(cfg):
    net = ReluNetwork.of(*random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], cfg["dtype"],
                                     cfg["seed"], cfg["dead_fraction"]))
    x = torch.randn(cfg["n"], cfg["in_dim"], dtype=cfg["dtype"],
                    generator=torch.Generator().manual_seed(cfg["seed"]))
    patterns = activation_patterns(x, net)
    i, j = random_pairs(cfg["n"], 100, cfg["seed"])
    per_layer = hamming_pairs_per_layer(patterns, i, j, net)
    assert per_layer.shape == (i.shape[0], len(cfg["hidden"]))
    assert torch.equal(per_layer.sum(dim=1), hamming_pairs(patterns, i, j))
    for l, (lo, hi) in enumerate(net.layer_bit_ranges()):
        assert torch.all(per_layer[:, l] <= hi - lo)
    bits = reference.unpack_bits(patterns, sum(cfg["hidden"]))
    lo, hi = net.layer_bit_ranges()[-1]
    expect = (bits[i, lo:hi] != bits[j, lo:hi]).sum(dim=1)
    assert torch.equal(per_layer[:, -1], expect)


def test_hamming_pairs_known_values():
    patterns = torch.tensor([[0, 0], [-1, 0], [1, 2**40], [0, -1]], dtype=torch.int64)
    i = torch.tensor([0, 0, 0, 1, 2])
    j = torch.tensor([1, 2, 3, 3, 3])
    assert hamming_pairs(patterns, i, j).tolist() == [64, 2, 64, 128, 64]
    seg = hamming_pairs(patterns, i, j, [0, 1, 64, 104, 105, 128])
    assert seg.tolist() == [[1, 63, 0, 0, 0], [1, 0, 0, 1, 0], [0, 0, 40, 1, 23],
                            [1, 63, 40, 1, 23], [1, 0, 40, 0, 23]]


def test_hamming_pairs_non_contiguous_inputs():
    patterns = random_words(50, 6, seed=2)[:, ::2]
    i, j = random_pairs(50, 80, seed=4)
    i2 = torch.stack([i, j], dim=1)[:, 0]
    assert not patterns.is_contiguous() and not i2.is_contiguous()
    assert torch.equal(hamming_pairs(patterns, i2, j), reference.hamming_pairs(patterns, i, j))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_hamming_neighbors_2d(h, w, words, seed):
    patterns = random_words(h * w, words, seed, bit_density=0.05)
    down, right = hamming_neighbors(patterns, (h, w))
    ref_down, ref_right = reference.hamming_neighbors(patterns, (h, w))
    assert down.shape == (max(h - 1, 0), w) and right.shape == (h, w - 1)
    assert torch.equal(down, ref_down) and torch.equal(right, ref_right)


@pytest.mark.parametrize("n", [0, 1, 2, 513])
def test_hamming_neighbors_1d(n):
    patterns = random_words(n, 3, seed=n)
    (d,) = hamming_neighbors(patterns, [n])
    assert d.shape == (max(n - 1, 0),)
    assert torch.equal(d, reference.hamming_neighbors(patterns, [n])[0])
    if n > 1:
        assert torch.equal(d, hamming_pairs(patterns, torch.arange(n - 1), torch.arange(1, n)))


def test_hamming_neighbors_on_a_grid_of_patterns():
    net = ReluNetwork.of(*random_mlp(2, [64, 33], seed=8))
    t = torch.linspace(0, 1, 30, dtype=torch.float64)
    x = torch.cartesian_prod(t, torch.linspace(0, 1, 20, dtype=torch.float64))
    patterns = activation_patterns(x, net)
    down, right = hamming_neighbors(patterns, (30, 20))
    full = reference.pattern_bits(x, net).reshape(30, 20, -1)
    assert torch.equal(down, (full[1:] != full[:-1]).sum(-1))
    assert torch.equal(right, (full[:, 1:] != full[:, :-1]).sum(-1))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=3, max_size=3), st.integers(1, 3),
       st.integers(0, 2**31 - 1))
def test_hamming_neighbors_3d(shape, words, seed):
    n = shape[0] * shape[1] * shape[2]
    patterns = random_words(n, words, seed, bit_density=0.05)
    got = hamming_neighbors(patterns, shape)
    expect = reference.hamming_neighbors(patterns, shape)
    assert len(got) == 3
    for axis, (g, e) in enumerate(zip(got, expect)):
        want = list(shape)
        want[axis] = max(want[axis] - 1, 0)
        assert list(g.shape) == want and torch.equal(g, e)


def test_hamming_neighbors_3d_steps_along_each_axis():
    d, h, w = 4, 3, 5
    patterns = random_words(d * h * w, 2, seed=3)
    grid = torch.arange(d * h * w).reshape(d, h, w)
    out = hamming_neighbors(patterns, (d, h, w))
    for axis in range(3):
        here = grid.narrow(axis, 0, grid.shape[axis] - 1).flatten()
        ahead = grid.narrow(axis, 1, grid.shape[axis] - 1).flatten()
        assert torch.equal(out[axis].flatten(), hamming_pairs(patterns, here, ahead))


def test_hamming_neighbors_takes_symbolic_grid_sizes():
    """The schema is SymInt[]: sizes from a tensor's shape reach the kernel as ints."""
    patterns = random_words(24, 1, seed=1)
    shape = torch.empty(2, 3, 4).shape
    got = torch.ops.specbias.hamming_neighbors(patterns, list(shape))
    for g, e in zip(got, reference.hamming_neighbors(patterns, (2, 3, 4))):
        assert torch.equal(g, e)


@pytest.mark.parametrize("shape", [[2.5, 2], [6.0]])
def test_hamming_neighbors_refuses_float_sizes(shape):
    with pytest.raises((TypeError, RuntimeError, ValueError), match="grid_shape|int"):
        torch.ops.specbias.hamming_neighbors(random_words(6, 1, seed=0), shape)
