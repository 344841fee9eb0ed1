"""torch.library.opcheck for every region op, and a torch.compile(fullgraph=True) smoke test."""
import pytest
import torch

from specbias_ext.testing import random_mlp
from specbias_ext.testing.patterns import duplicated_rows
import specbias_ext
from specbias_ext import reference

ops = torch.ops.specbias


def small_net(dtype=torch.float32):
    weights, biases = random_mlp(3, [70, 20], dtype=dtype, seed=1)
    x = torch.randn(33, 3, dtype=dtype)
    return x, weights, biases


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck_activation_patterns(dtype):
    x, weights, biases = small_net(dtype)
    torch.library.opcheck(ops.activation_patterns, (x, weights, biases))
    torch.library.opcheck(ops.activation_patterns, (x[:0], weights, biases))


def test_opcheck_region_ids():
    patterns = duplicated_rows(40, 2, distinct=6, seed=3)
    # The region count is data-dependent: the fake kernel returns an unbacked size
    # (ctx.new_dynamic_size()), which lets test_aot_dispatch_dynamic trace it too, so all of
    # opcheck's default tests run.
    torch.library.opcheck(ops.region_ids, (patterns,))
    torch.library.opcheck(ops.region_ids, (patterns[:0],))


@pytest.mark.parametrize("segments", [None, [0, 70, 90], [5, 5, 128]])
def test_opcheck_hamming_pairs(segments):
    patterns = duplicated_rows(40, 2, distinct=20, seed=4)
    i, j = torch.randint(0, 40, (25,)), torch.randint(0, 40, (25,))
    torch.library.opcheck(ops.hamming_pairs, (patterns, i, j, segments))


@pytest.mark.parametrize("grid", [[40], [5, 8], [2, 4, 5]])
def test_opcheck_hamming_neighbors(grid):
    patterns = duplicated_rows(40, 3, distinct=20, seed=5)
    torch.library.opcheck(ops.hamming_neighbors, (patterns, grid))


@pytest.mark.parametrize("num_bits", [0, 100, 128])
def test_opcheck_bit_counts(num_bits):
    patterns = duplicated_rows(40, 2, distinct=20, seed=6)
    torch.library.opcheck(ops.bit_counts, (patterns, num_bits))


def test_compile_fullgraph_patterns_and_hamming():
    x, weights, biases = small_net(torch.float64)
    net = specbias_ext.ReluNetwork.of(weights, biases)
    i, j = torch.arange(32), torch.arange(1, 33)

    def local_hamming(x, net, i, j):
        patterns = specbias_ext.activation_patterns(x, net)
        return specbias_ext.hamming_pairs(patterns, i, j).float().mean()

    compiled = torch.compile(local_hamming, fullgraph=True, backend="aot_eager")
    expect = reference.hamming_pairs(reference.activation_patterns(x, net), i, j)
    torch.testing.assert_close(compiled(x, net, i, j), expect.float().mean())
