"""Exact 1D breakpoints against a brute-force dense search; grid region count convergence."""
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from specbias_ext.testing import random_mlp
from specbias_ext.testing import random_network
from specbias_ext import ReluNetwork
from specbias_ext.exact import breakpoints1d
from specbias_ext.reference import hidden_preactivations, pattern_bits


@st.composite
def small_1d_nets(draw):
    depth = draw(st.integers(1, 4))
    return dict(hidden=draw(st.lists(st.integers(1, 12), min_size=depth, max_size=depth)),
                seed=draw(st.integers(0, 2**31 - 1)),
                dead_fraction=draw(st.sampled_from([0.0, 0.0, 0.3])))


@settings(max_examples=30, deadline=None)
@given(small_1d_nets())
def test_breakpoints_match_dense_search(cfg):
    """On a grid of 2^16 cells of (0, 1): the cells where the pattern changes are exactly the
    cells holding a breakpoint (examples with two breakpoints in one cell are skipped), and at
    every breakpoint some neuron's pre-activation is 0 and the pattern differs on both sides."""
    net = ReluNetwork.of(*random_mlp(1, cfg["hidden"], 1, seed=cfg["seed"],
                                     dead_fraction=cfg["dead_fraction"]))
    bps = breakpoints1d.exact_breakpoints_1d(net)
    assert bps.dtype == torch.float64
    assert (bps > 0).all() and (bps < 1).all() and (bps[1:] > bps[:-1]).all()
    cells = 2 ** 16
    x = (torch.arange(cells + 1, dtype=torch.float64) / cells)
    bits = pattern_bits(x[:, None], net)
    changed = torch.nonzero((bits[1:] != bits[:-1]).any(dim=1)).squeeze(1)
    bp_cells = torch.floor(bps * cells).long()
    assume(bp_cells.unique().numel() == bp_cells.numel())
    assume(not torch.isin(bps, x).any())
    assert torch.equal(changed, bp_cells)
    if bps.numel():
        z = torch.cat(hidden_preactivations(bps[:, None], net), dim=1)
        scale = 1 + torch.cat(hidden_preactivations(x[:, None], net), dim=1).abs().max()
        assert (z.abs().min(dim=1).values < 1e-9 * scale).all()
        eps = 1e-9
        left = pattern_bits((bps - eps)[:, None], net)
        right = pattern_bits((bps + eps)[:, None], net)
        assert (left != right).any(dim=1).all()


def test_one_layer_breakpoints_closed_form():
    w, b = random_mlp(1, [40], 1, seed=3)
    net = ReluNetwork.of(w, b)
    cross = -b[0] / w[0][:, 0]
    expected = torch.sort(cross[(cross > -2) & (cross < 3)]).values
    torch.testing.assert_close(breakpoints1d.exact_breakpoints_1d(net, -2, 3), expected)
    assert breakpoints1d.exact_region_count_1d(net, -2, 3) == expected.numel() + 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_grid_count_converges_to_exact_count(seed):
    net = ReluNetwork.of(*random_mlp(1, [12, 12, 12], 1, seed=seed))
    sizes = [2, 8, 32, 128, 512, 2048]
    narrowest = breakpoints1d.grid_count_convergence(net, [1]).narrowest_region
    fine = int(math.ceil(2.0 / narrowest))
    result = breakpoints1d.grid_count_convergence(net, sizes + [fine, 2 * fine])
    assert result.exact_count == breakpoints1d.exact_region_count_1d(net) > 3
    for size, count in zip(result.sizes, result.grid_counts):
        assert count <= result.exact_count
        if 1.0 / size < result.narrowest_region:
            assert count == result.exact_count, (size, count)
    assert result.grid_counts[0] < result.exact_count  # a coarse grid misses regions


def test_float32_network_and_bad_input():
    w, b = random_mlp(1, [10, 10], 1, seed=4, dtype=torch.float32)
    net = ReluNetwork.of(w, b)
    bps = breakpoints1d.exact_breakpoints_1d(net)
    assert bps.dtype == torch.float64
    with pytest.raises(ValueError, match=r"net: expected a network on raw 1D coordinates .*"
                                         r"its first layer takes 2"):
        breakpoints1d.exact_breakpoints_1d(ReluNetwork.of(*random_mlp(2, [10], 1, seed=4)))
    with pytest.raises(ValueError, match="input skips and residual adds are not supported"):
        breakpoints1d.exact_breakpoints_1d(ReluNetwork.of(w, b, residual=[False, True]))
    with pytest.raises(TypeError, match="net: expected a ReluNetwork"):
        breakpoints1d.exact_breakpoints_1d(w, b)
    with pytest.raises(ValueError, match="expected finite lo < hi"):
        breakpoints1d.exact_breakpoints_1d(net, 1.0, 0.0)
    with pytest.raises(ValueError, match="sizes: expected positive"):
        breakpoints1d.grid_count_convergence(net, [0])


@settings(max_examples=25, deadline=None)
@given(small_1d_nets(), st.floats(0.01, 0.5), st.lists(st.booleans(), min_size=5, max_size=5))
def test_leaky_and_bias_free_breakpoints_are_the_pattern_changes(cfg, slope, bias):
    """LeakyReLU layers and layers without a bias: every breakpoint separates two different
    patterns, and a fine grid sees no pattern change away from the breakpoints."""
    depth = len(cfg["hidden"])
    net = random_network(1, cfg["hidden"], slopes=[slope] * depth, bias=bias[:depth + 1],
                         seed=cfg["seed"])
    bps = breakpoints1d.exact_breakpoints_1d(net, -1.0, 1.0)
    assert (bps > -1).all() and (bps < 1).all() and (bps[1:] > bps[:-1]).all()
    cells = 2 ** 14
    x = torch.arange(cells + 1, dtype=torch.float64) / cells * 2 - 1
    bits = pattern_bits(x[:, None], net)
    changed = torch.nonzero((bits[1:] != bits[:-1]).any(dim=1)).squeeze(1)
    bp_cells = torch.floor((bps + 1) / 2 * cells).long()
    assume(bp_cells.unique().numel() == bp_cells.numel())
    assume(not torch.isin(bps, x).any())
    assert torch.equal(changed, bp_cells)
