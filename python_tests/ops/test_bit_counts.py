import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.testing import random_mlp

from specbias_ext.testing.strategies import mlp_configs
from specbias_ext.testing.strategies import pattern_tensors
from specbias_ext import ReluNetwork, activation_patterns, bit_counts, reference


@settings(max_examples=50, deadline=None)
@given(pattern_tensors(), st.data())
def test_bit_counts_match_reference(patterns, data):
    num_bits = data.draw(st.integers(0, patterns.shape[1] * 64))
    counts = bit_counts(patterns, num_bits)
    assert counts.dtype == torch.int64 and counts.shape == (num_bits,)
    assert torch.equal(counts, reference.bit_counts(patterns, num_bits))


@pytest.mark.parametrize("n", [0, 1, 4095, 4096, 4097, 9000])
def test_all_on_and_all_off_bits(n):
    # Column 0 all on (every bit, the sign bit too), column 1 all off, column 2 alternating.
    patterns = torch.zeros(n, 3, dtype=torch.int64)
    patterns[:, 0] = -1
    patterns[::2, 2] = 0x5555555555555555
    counts = bit_counts(patterns, 192)
    assert torch.all(counts[:64] == n) and torch.all(counts[64:128] == 0)
    half = (n + 1) // 2
    assert counts[128:].tolist() == [half, 0] * 32


@settings(max_examples=25, deadline=None)
@given(mlp_configs(max_n=400, max_width=150))
def test_dead_and_always_on_neurons(cfg):
    cfg["dtype"] = torch.float64  # float32 rounding could flip a pre-activation within 1 ulp of 0
    net = ReluNetwork.of(*random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], cfg["dtype"],
                                     cfg["seed"], cfg["dead_fraction"]))
    x = torch.rand(cfg["n"], cfg["in_dim"], dtype=cfg["dtype"],
                   generator=torch.Generator().manual_seed(cfg["seed"]))
    h = sum(cfg["hidden"])
    counts = bit_counts(activation_patterns(x, net), h)
    zs = reference.hidden_preactivations(x, net)
    z = torch.cat(zs, dim=1) if cfg["n"] else torch.zeros(0, h, dtype=cfg["dtype"])
    assert torch.equal(counts == 0, ~(z > 0).any(dim=0))
    assert torch.equal(counts == cfg["n"], (z > 0).all(dim=0))
    if cfg["dead_fraction"] == 1.0:
        assert torch.all(counts == 0)
