"""CUDA kernels of the region ops agree exactly with the CPU kernels."""
import pytest
import torch

from conftest import requires_cuda
from specbias_ext.testing import random_mlp
from specbias_ext.testing.patterns import duplicated_rows, random_words
from specbias_ext import (
    ReluNetwork, activation_patterns, bit_counts, hamming_neighbors, hamming_pairs,
    hamming_pairs_per_layer, region_ids, reference,
)

pytestmark = requires_cuda


def exact_net(in_dim, hidden, dtype, seed):
    """Small-integer weights: z is exact on both devices, so patterns must agree bit for bit."""
    gen = torch.Generator().manual_seed(seed)
    dims = [in_dim] + list(hidden) + [1]
    weights = [torch.randint(-1, 2, (dims[l + 1], dims[l]), generator=gen).to(dtype)
               for l in range(len(dims) - 1)]
    biases = [torch.randint(-1, 2, (dims[l + 1],), generator=gen).to(dtype)
              for l in range(len(dims) - 1)]
    return ReluNetwork.of(weights, biases)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("hidden", [[1], [63, 65], [300, 64, 7, 128, 5]])
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_activation_patterns_cuda_exact(dtype, hidden, n):
    net = exact_net(6, hidden, dtype, seed=n + len(hidden))
    x = torch.randint(-2, 3, (n, 6)).to(dtype)
    got = activation_patterns(x.cuda(), net.to("cuda"))
    assert got.device.type == "cuda"
    assert torch.equal(got.cpu(), activation_patterns(x, net))


def test_activation_patterns_cuda_several_chunks():
    # The CUDA kernel works in chunks of 256 MiB of activations: width 512 in float32 gives
    # 65536 rows per chunk, so 200k rows take four chunks, the last one partial.
    net = exact_net(4, [512, 100], torch.float32, seed=9)
    x = torch.randint(-2, 3, (200_003, 4)).float()
    got = activation_patterns(x.cuda(), net.to("cuda"))
    assert torch.equal(got.cpu(), activation_patterns(x, net))


def test_activation_patterns_cuda_random_net_close_to_reference():
    net = ReluNetwork.of(*random_mlp(16, [256, 256, 256], dtype=torch.float64, seed=3))
    x = torch.randn(5000, 16, dtype=torch.float64)
    got = activation_patterns(x.cuda(), net.to("cuda")).cpu()
    expect = reference.activation_patterns(x, net)
    differing = (reference.unpack_bits(got, 768) != reference.unpack_bits(expect, 768)).sum()
    assert int(differing) <= 2  # float64 rounding may flip a z within ~1e-15 of 0 at most


@pytest.mark.parametrize("n,distinct", [(0, 1), (1, 1), (5000, 1), (5000, 40), (300_000, 5000),
                                        (100_000, 100_000)])
def test_region_ids_cuda(n, distinct):
    patterns = duplicated_rows(n, 5, distinct, seed=n) if distinct < n else random_words(n, 5, 1)
    ids, counts = region_ids(patterns.cuda())
    ref_ids, ref_counts = region_ids(patterns)
    assert torch.equal(ids.cpu(), ref_ids) and torch.equal(counts.cpu(), ref_counts)


def test_region_ids_cuda_zero_words():
    ids, counts = region_ids(torch.zeros(9, 0, dtype=torch.int64, device="cuda"))
    assert ids.cpu().tolist() == [0] * 9 and counts.cpu().tolist() == [9]


@pytest.mark.parametrize("segments", [None, [0, 1, 64, 100, 100, 320]])
def test_hamming_pairs_cuda(segments):
    patterns = random_words(3000, 5, seed=2)
    i, j = torch.randint(0, 3000, (20000,)), torch.randint(0, 3000, (20000,))
    got = hamming_pairs(patterns.cuda(), i.cuda(), j.cuda(), segments)
    assert torch.equal(got.cpu(), hamming_pairs(patterns, i, j, segments))


def test_hamming_pairs_per_layer_cuda():
    net = exact_net(3, [70, 90, 20], torch.float64, seed=5)
    x = torch.randint(-2, 3, (500, 3)).double()
    patterns = activation_patterns(x, net)
    i, j = torch.randint(0, 500, (400,)), torch.randint(0, 500, (400,))
    got = hamming_pairs_per_layer(patterns.cuda(), i.cuda(), j.cuda(), net)
    assert torch.equal(got.cpu(), hamming_pairs_per_layer(patterns, i, j, net))


def test_hamming_pairs_cuda_device_mismatch():
    patterns = random_words(10, 2, seed=1).cuda()
    with pytest.raises(RuntimeError, match=r"i: expected device cuda"):
        hamming_pairs(patterns, torch.arange(3), torch.arange(3).cuda())


@pytest.mark.parametrize("grid", [[0], [1], [1000], [0, 5], [1, 7], [37, 53], [600, 700],
                                  [0, 3, 4], [1, 1, 9], [7, 1, 5], [33, 40, 21]])
def test_hamming_neighbors_cuda(grid):
    n = 1
    for s in grid:
        n *= s
    patterns = random_words(n, 3, seed=n, bit_density=0.02)
    got = hamming_neighbors(patterns.cuda(), grid)
    expect = hamming_neighbors(patterns, grid)
    assert len(got) == len(expect)
    for g, e in zip(got, expect):
        assert torch.equal(g.cpu(), e)


@pytest.mark.parametrize("n", [0, 1, 513, 100_000, 3_000_000])
@pytest.mark.parametrize("num_bits", [0, 1, 200, 320])
def test_bit_counts_cuda(n, num_bits):
    patterns = random_words(min(n, 100_000), 5, seed=3)
    if n > 100_000:
        patterns = patterns.repeat(n // 100_000, 1)
    got = bit_counts(patterns.cuda(), num_bits)
    assert torch.equal(got.cpu(), bit_counts(patterns, num_bits))
