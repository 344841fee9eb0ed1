import pytest
import torch
from hypothesis import given, settings

from specbias_ext.testing import random_mlp

from specbias_ext.testing.strategies import mlp_configs
from specbias_ext.testing.patterns import duplicated_rows, random_words
from specbias_ext.testing.strategies import pattern_tensors
from specbias_ext import ReluNetwork, activation_patterns, reference, region_ids


def check_ids(patterns, ids, counts):
    n = patterns.shape[0]
    assert ids.dtype == torch.int64 and counts.dtype == torch.int64
    assert ids.shape == (n,)
    ref_ids, ref_counts = reference.region_ids(patterns)
    torch.testing.assert_close(ids, ref_ids, rtol=0, atol=0)
    torch.testing.assert_close(counts, ref_counts, rtol=0, atol=0)
    # Consistency that does not lean on the reference.
    num = counts.shape[0]
    assert int(counts.sum()) == n
    assert torch.equal(torch.bincount(ids, minlength=num), counts)
    if n:
        first_seen = torch.full((num,), n, dtype=torch.int64).scatter_reduce(
            0, ids, torch.arange(n), reduce="amin")
        assert torch.all(first_seen[1:] > first_seen[:-1])  # numbered by first appearance
        # Same id <=> same row.
        same_id = ids[:, None] == ids[None, :] if n <= 400 else None
        if same_id is not None:
            same_row = (patterns[:, None, :] == patterns[None, :, :]).all(dim=2)
            assert torch.equal(same_id, same_row)


@settings(max_examples=50, deadline=None)
@given(pattern_tensors())
def test_region_ids_match_reference(patterns):
    ids, counts = region_ids(patterns)
    check_ids(patterns, ids, counts)


@pytest.mark.parametrize("n", [0, 1, 2, 1000])
def test_all_equal_rows(n):
    patterns = random_words(1, 4, seed=3).expand(n, 4)  # non-contiguous (stride 0)
    ids, counts = region_ids(patterns)
    assert torch.equal(ids, torch.zeros(n, dtype=torch.int64))
    assert counts.tolist() == ([n] if n else [])


def test_all_distinct_rows():
    patterns = torch.arange(5000, dtype=torch.int64).mul(7919).reshape(-1, 1).repeat(1, 3)
    ids, counts = region_ids(patterns)
    assert torch.equal(ids, torch.arange(5000))
    assert torch.equal(counts, torch.ones(5000, dtype=torch.int64))


def test_many_duplicates_large():
    patterns = duplicated_rows(20000, 5, distinct=700, seed=11)
    check_ids(patterns, *region_ids(patterns))


def test_rows_differing_only_in_the_sign_bit():
    patterns = torch.tensor([[0, 1], [0, -(2**63)], [0, 1], [0, 0]], dtype=torch.int64)
    ids, counts = region_ids(patterns)
    assert ids.tolist() == [0, 1, 0, 2]
    assert counts.tolist() == [2, 1, 1]


def test_zero_words():
    ids, counts = region_ids(torch.zeros(7, 0, dtype=torch.int64))
    assert ids.tolist() == [0] * 7 and counts.tolist() == [7]


def test_region_ids_of_activation_patterns():
    net = ReluNetwork.of(*random_mlp(2, [37, 70], seed=5))
    t = torch.linspace(0, 1, 60, dtype=torch.float64)
    x = torch.cartesian_prod(t, t)
    patterns = activation_patterns(x, net)
    ids, counts = region_ids(patterns)
    check_ids(patterns, ids, counts)
    assert 1 < counts.shape[0] < x.shape[0]  # a 2-D ReLU net cuts the square into some regions


@settings(max_examples=30, deadline=None)
@given(mlp_configs(max_n=400, max_width=150, max_in=3))
def test_region_ids_of_random_networks(cfg):
    """Patterns of random nets (incl. all-dead layers: one region) on points with repeats."""
    net = ReluNetwork.of(*random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], cfg["dtype"],
                                     cfg["seed"], cfg["dead_fraction"]))
    gen = torch.Generator().manual_seed(cfg["seed"])
    x = torch.randint(0, 8, (cfg["n"], cfg["in_dim"]), generator=gen).to(cfg["dtype"]) / 8
    patterns = activation_patterns(x, net)
    ids, counts = region_ids(patterns)
    check_ids(patterns, ids, counts)
    if cfg["dead_fraction"] == 1.0 and cfg["n"]:
        assert counts.tolist() == [cfg["n"]]
