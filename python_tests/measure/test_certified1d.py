import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from specbias_ext.exact.certified1d import certified_regions_1d
from specbias_ext.nets.encodings import FourierFeatures, PositionalEncoding
from specbias_ext.exact.breakpoints1d import exact_breakpoints_1d
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.reference.network import pattern_bits

from specbias_ext.testing import random_mlp


def _net(in_dim, hidden, seed, kind="plain"):
    w, b = random_mlp(in_dim, hidden, seed=seed)
    depth = len(hidden)
    if kind == "plain":
        return ReluNetwork.of(w, b)
    if kind == "leaky":
        return ReluNetwork.of(w, b, slopes=[0.1 * (l + 1) for l in range(depth)])
    if kind == "no-bias":
        return ReluNetwork.of(w, [None] * len(w))
    if kind == "skip":   # layers >= 1 also read x
        gen = torch.Generator().manual_seed(seed + 1)
        w = [w[0]] + [torch.cat([wl, torch.randn(wl.shape[0], in_dim, generator=gen,
                                                 dtype=wl.dtype)], 1) for wl in w[1:]]
        return ReluNetwork.of(w, b, input_skips=[False] + [True] * depth)
    if kind == "residual":   # equal hidden widths
        return ReluNetwork.of(w, b, residual=[False] + [True] * (depth - 1))
    raise ValueError(kind)


def _dense(net, encoding, n, lo=0.0, hi=1.0):
    """(pieces, distinct patterns) on the cell centres lo + (hi - lo) (k + 1/2) / n (not on lo
    itself: a breakpoint exactly at lo gives that single point a pattern of its own, and the
    certified count covers the open segment)."""
    t = lo + (hi - lo) * (torch.arange(n, dtype=torch.float64) + 0.5) / n
    x = t[:, None] if encoding is None else encoding(t[:, None])
    bits = pattern_bits(net, x)
    pieces = int((bits[1:] != bits[:-1]).any(dim=1).sum()) + 1
    return pieces, int(torch.unique(bits, dim=0).shape[0])


def _bits_at(net, encoding, t):
    t = t.to(torch.float64)
    x = t[:, None] if encoding is None else encoding(t[:, None])
    return pattern_bits(net, x)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.lists(st.integers(1, 12), min_size=1, max_size=3),
       lo=st.sampled_from([0.0, -1.0, -3.0]))
def test_raw_inputs_match_exact_breakpoints(seed, hidden, lo):
    net = _net(1, hidden, seed)
    res = certified_regions_1d(net, None, lo, 1.0)
    exact = exact_breakpoints_1d(net, lo, 1.0)
    assert res.exact
    assert res.breakpoints.shape == exact.shape
    torch.testing.assert_close(res.breakpoints, exact, atol=1e-12, rtol=0)
    assert res.count == exact.numel() + 1


def _encodings():
    return {"raw": None, "pe3": PositionalEncoding(1, 3), "pe5": PositionalEncoding(1, 5),
            "rff": FourierFeatures(1, 6, sigma=2.0, seed=3).double()}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), enc=st.sampled_from(["raw", "pe3", "pe5", "rff"]),
       kind=st.sampled_from(["plain", "leaky", "no-bias", "skip", "residual"]),
       depth=st.integers(1, 3), width=st.integers(2, 10))
@example(seed=0, enc="pe3", kind="no-bias", depth=2, width=2)   # unresolved interior cells
def test_against_dense_sampling(seed, enc, kind, depth, width):
    encoding = _encodings()[enc]
    in_dim = 1 if encoding is None else encoding.out_dim
    net = _net(in_dim, [width] * depth, seed, kind)
    res = certified_regions_1d(net, encoding, 0.0, 1.0)
    if not res.exact:
        # only bias-free layers: where every input of such a layer is exactly 0 (raw inputs at
        # lo = 0, or every neuron of the layer below off) its pre-activations are exactly 0, no
        # bound settles their sign, and the tiny cells there stay unresolved and reported
        assert kind == "no-bias"
        if enc == "raw":
            assert bool((res.unresolved[:, 0] == 0.0).all())
        assert res.unresolved_length < 1e-9
        assert res.count == res.breakpoints.numel() + 1
        return
    n = 1 << 13
    pieces, distinct = _dense(net, encoding, n)
    assert distinct <= pieces <= res.count
    bp = res.breakpoints
    assert bool((bp > 0).all() and (bp < 1).all() and (bp[1:] > bp[:-1]).all())
    # every certified breakpoint is a real change of some bit
    gaps = torch.diff(torch.cat([bp.new_tensor([0.0]), bp, bp.new_tensor([1.0])]))
    if bp.numel():
        delta = (0.25 * gaps.min()).clamp_max(1e-7)
        left, right = _bits_at(net, encoding, bp - delta), _bits_at(net, encoding, bp + delta)
        assert bool((left != right).any(dim=1).all())
    # a grid finer than the narrowest region sees every piece
    if float(gaps.min()) > 2.0 / n:
        assert pieces == res.count


@pytest.mark.parametrize("kind", ["plain", "leaky", "no-bias", "skip", "residual"])
def test_fine_grid_equals_certified_count(kind):
    enc = PositionalEncoding(1, 2)
    net = _net(enc.out_dim, [4, 4], seed=5, kind=kind)
    res = certified_regions_1d(net, enc, 0.0, 1.0)
    gaps = torch.diff(torch.cat([torch.zeros(1, dtype=torch.float64), res.breakpoints,
                                 torch.ones(1, dtype=torch.float64)]))
    n = 1 << 16
    assert res.count > 1 and float(gaps.min()) > 2.0 / n   # the check below is not vacuous
    assert _dense(net, enc, n)[0] == res.count


def test_large_min_width_reports_unresolved_length_and_a_lower_bound():
    enc = PositionalEncoding(1, 6)
    net = _net(enc.out_dim, [16, 16], seed=2)
    full = certified_regions_1d(net, enc)
    coarse = certified_regions_1d(net, enc, min_width=0.02, initial_cells=8)
    assert full.exact and not coarse.exact
    assert 0 < coarse.unresolved_length <= 1.0
    widths = coarse.unresolved[:, 1] - coarse.unresolved[:, 0]
    assert float(widths.sum()) == pytest.approx(coarse.unresolved_length)
    assert bool((widths < 2 * 0.02).all())
    assert coarse.count <= full.count
    # every certified breakpoint of the coarse run is one of the full run's
    dist = (coarse.breakpoints[:, None] - full.breakpoints[None, :]).abs().min(dim=1).values
    assert bool((dist < 1e-10).all())


def test_dead_network_has_one_region():
    w, b = random_mlp(1, [8, 8], seed=0, dead_fraction=1.0)
    res = certified_regions_1d(ReluNetwork.of(w, b), None, -2.0, 2.0)
    assert res.count == 1 and res.breakpoints.numel() == 0 and res.exact


def test_float32_networks_are_accepted_and_lists_refused():
    w, b = random_mlp(1, [6], seed=1, dtype=torch.float32)
    net = ReluNetwork.of(w, b)
    res = certified_regions_1d(net)
    exact = exact_breakpoints_1d(net)
    torch.testing.assert_close(res.breakpoints, exact, atol=1e-7, rtol=0)
    with pytest.raises(TypeError, match=r"net: expected a ReluNetwork, got list; build one with "
                                        r"ReluNetwork.of\(weights, biases\)"):
        certified_regions_1d(w)


def test_bad_arguments():
    net = _net(1, [4], seed=0)
    with pytest.raises(ValueError, match="lo, hi"):
        certified_regions_1d(net, None, 1.0, 0.0)
    with pytest.raises(ValueError, match="min_width"):
        certified_regions_1d(net, None, min_width=0.0)
    with pytest.raises(ValueError, match="1D coordinates"):
        certified_regions_1d(_net(8, [4], 0), PositionalEncoding(2, 2))
    with pytest.raises(ValueError, match="the encoding's output has 4 features, the network's "
                                         "first layer takes 1: pass the encoding the network"):
        certified_regions_1d(net, PositionalEncoding(1, 2))
