"""Sampled local complexity from the patterns of a grid (specbias::grid_complexity): against the
plain-torch reference on random patterns of 1D, 2D and 3D grids, per-axis steps, segments that
split words, the centre as a vertex; against the hull method on a hand-made grid; edge cases
(no points, no inner point, empty segments); opcheck; torch.compile; errors; CUDA."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import requires_cuda
from specbias_ext import reference
from specbias_ext.ops import complexity as ops_complexity

pytestmark = pytest.mark.usefixtures("one_thread")
OPS = torch.ops.specbias


@st.composite
def grid_cases(draw):
    dims = draw(st.integers(1, 3))
    shape = [draw(st.integers(0 if dims == 1 else 1, 9)) for _ in range(dims)]
    steps = [draw(st.integers(1, 3)) for _ in range(dims)]
    words = draw(st.integers(1, 3))
    cuts = sorted(draw(st.lists(st.integers(0, 64 * words), min_size=2, max_size=5)))
    return dict(shape=shape, steps=steps, words=words, segments=cuts,
                include_centre=draw(st.booleans()), seed=draw(st.integers(0, 2**20)))


def random_patterns(rows, words, seed, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    # Sparse and dense words alike: a few bits that differ, or almost all of them.
    dense = torch.randint(-2**62, 2**62, (rows, words), generator=gen, dtype=torch.int64)
    sparse = dense & torch.randint(-2**62, 2**62, (rows, words), generator=gen) & \
        torch.randint(-2**62, 2**62, (rows, words), generator=gen)
    pick = torch.rand(rows, 1, generator=gen) < 0.5
    return torch.where(pick, dense, sparse).to(device)


def _rows(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@settings(max_examples=80, deadline=None)
@given(grid_cases())
def test_matches_reference(case):
    patterns = random_patterns(_rows(case["shape"]), case["words"], case["seed"])
    args = (case["shape"], case["steps"], case["segments"])
    counts = ops_complexity.grid_complexity(patterns, *args,
                                            include_centre=case["include_centre"])
    expect = reference.grid_complexity(patterns, *args, case["include_centre"])
    inner = _rows([max(0, n - 2 * s) for n, s in zip(case["shape"], case["steps"])])
    assert counts.dtype == torch.int32
    assert counts.shape == (inner, len(case["segments"]) - 1)
    assert torch.equal(counts, expect)


def test_equals_hull_counts_on_a_line():
    """1D grid of 6 points, one 3-bit layer, steps 1: each inner point's count is the number of
    bits not equal at its two neighbours (the hull vertices), and the centre adds its own."""
    bits = [0b000, 0b001, 0b011, 0b001, 0b111, 0b110]
    patterns = torch.tensor(bits, dtype=torch.int64)[:, None]
    counts = ops_complexity.grid_complexity(patterns, [6], [1], [0, 3])
    # point 1: {000, 011}: bits 0, 1; point 2: {001, 001}: none; point 3: {011, 111}: bit 2;
    # point 4: {001, 110}: all three.
    assert counts[:, 0].tolist() == [2, 0, 1, 3]
    with_centre = ops_complexity.grid_complexity(patterns, [6], [1], [0, 3],
                                                 include_centre=True)
    # the centre of point 2 (011) differs from its neighbours in bit 1, that of point 3 (001)
    # in bit 1 too.
    assert with_centre[:, 0].tolist() == [2, 1, 2, 3]
    per_bit = ops_complexity.grid_complexity(patterns, [6], [1], [0, 1, 2, 3])
    assert per_bit.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 1, 1]]


def test_edge_cases():
    p = random_patterns(12, 2, 0)
    # No inner point: every count array is empty but has the segments as columns.
    assert ops_complexity.grid_complexity(p, [3, 4], [2, 1], [0, 70]).shape == (0, 1)
    assert ops_complexity.grid_complexity(p[:0], [0], [1], [0, 5, 9]).shape == (0, 2)
    # Empty segments count nothing; bits past the last boundary are never read.
    counts = ops_complexity.grid_complexity(p, [12], [1], [3, 3, 128])
    assert not counts[:, 0].any()
    only = ops_complexity.grid_complexity(p, [12], [1], [0, 10])
    masked = p.clone()
    masked[:, 0] &= (1 << 10) - 1
    masked[:, 1] = 0
    assert torch.equal(only, ops_complexity.grid_complexity(masked, [12], [1], [0, 10]))
    # A constant grid has no point whose bits change.
    same = p[:1].expand(12, 2).contiguous()
    assert not ops_complexity.grid_complexity(same, [3, 4], [1, 1], [0, 128]).any()
    # Non-contiguous patterns are read as their values.
    wide = random_patterns(12, 4, 1)
    assert torch.equal(ops_complexity.grid_complexity(wide[:, ::2], [12], [2], [0, 128]),
                       ops_complexity.grid_complexity(wide[:, ::2].contiguous(), [12], [2],
                                                      [0, 128]))


def test_opcheck():
    p = random_patterns(5 * 7, 2, 3)
    for args in (([5, 7], [1, 2], True, [0, 40, 100]), ([35], [3], False, [0, 128]),
                 ([1, 5, 7], [1, 1, 1], False, [0, 1])):
        torch.library.opcheck(OPS.grid_complexity.default, (p, *args))


def test_compile_fullgraph():
    p = random_patterns(9 * 8, 1, 4)

    def f(patterns):
        return ops_complexity.grid_complexity(patterns, [9, 8], [1, 1], [0, 30, 64])

    compiled = torch.compile(f, fullgraph=True, backend="eager")
    assert torch.equal(compiled(p), f(p))


def test_errors():
    p = random_patterns(12, 1, 5)
    with pytest.raises(RuntimeError, match="steps: expected one step per grid axis"):
        OPS.grid_complexity(p, [3, 4], [1], False, [0, 8])
    with pytest.raises(RuntimeError, match="steps: expected whole numbers of grid points >= 1"):
        OPS.grid_complexity(p, [3, 4], [1, 0], False, [0, 8])
    with pytest.raises(RuntimeError, match="grid_shape: expected sizes whose product"):
        OPS.grid_complexity(p, [3, 5], [1, 1], False, [0, 8])
    with pytest.raises(RuntimeError, match="segments: expected at least 2 bit boundaries"):
        OPS.grid_complexity(p, [12], [1], False, [0])
    with pytest.raises(RuntimeError, match="segments: expected boundaries <= 64"):
        OPS.grid_complexity(p, [12], [1], False, [0, 65])
    with pytest.raises(RuntimeError, match="patterns: expected"):
        OPS.grid_complexity(p.to(torch.int32), [12], [1], False, [0, 8])


@requires_cuda
@settings(max_examples=30, deadline=None)
@given(grid_cases())
def test_cuda_matches_cpu(case):
    patterns = random_patterns(_rows(case["shape"]), case["words"], case["seed"])
    args = (case["shape"], case["steps"], case["segments"])
    cpu = ops_complexity.grid_complexity(patterns, *args, include_centre=case["include_centre"])
    gpu = ops_complexity.grid_complexity(patterns.cuda(), *args,
                                         include_centre=case["include_centre"])
    assert gpu.device.type == "cuda"
    assert torch.equal(gpu.cpu(), cpu)
