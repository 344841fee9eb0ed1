"""Grid region counts of raw 2D networks against the exact partition from the optional
``regioncam`` package (``pip install regioncam``; these tests are skipped only when it is not
importable)."""
import numpy as np
import pytest
import torch

from specbias_ext import ops
from specbias_ext.exact.partition2d import exact_partition_2d, exact_region_count_2d
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.reference.network import pattern_bits

from specbias_ext.testing import random_mlp

regioncam = pytest.importorskip("regioncam")

LO, HI = 0.0, 1.0


def _exact(weights, biases, lo=LO, hi=HI, **kinds):
    """(partition, scale, centre): vertex v of the partition is the box point v * scale + centre."""
    net = ReluNetwork.of(weights, biases, **kinds)
    return exact_partition_2d(net, lo, hi), (hi - lo) / 2, lo + (hi - lo) / 2


def _grid(size, lo=LO, hi=HI):
    g = lo + (hi - lo) * (torch.arange(size, dtype=torch.float64) + 0.5) / size
    return torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


def _grid_count(weights, biases, size, **kinds):
    x = _grid(size).float()
    net = ReluNetwork.of([w.float() for w in weights],
                         [None if b is None else b.float() for b in biases], **kinds)
    return int(ops.region_ids(ops.activation_patterns(x, net))[1].numel())


def _faces_hit(rc, scale, centre, size, margin):
    """Faces holding at least one grid point ``margin`` inside their edges (margin < 0: on or
    just outside them)."""
    pts = _grid(size).numpy()
    vertices = np.asarray(rc.vertex_inputs, dtype=np.float64) * scale + centre
    hit = 0
    for face in rc.faces:
        v = vertices[np.asarray(face.vertex_ids)]
        v = v[np.argsort(np.arctan2(*(v - v.mean(0)).T[::-1]))]     # counter-clockwise
        lo, hi = v.min(0) - abs(margin), v.max(0) + abs(margin)
        box = pts[np.all((pts >= lo) & (pts <= hi), axis=1)]
        if not len(box):
            continue
        edges = np.roll(v, -1, axis=0) - v
        normals = np.stack([edges[:, 1], -edges[:, 0]], 1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        inside = ((box[:, None, :] - v[None]) * normals[None]).sum(-1) <= -margin
        hit += bool(inside.all(axis=1).any())
    return hit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_count_is_a_lower_bound_of_the_exact_count(seed):
    w, b = random_mlp(2, [16, 16], seed=seed)
    rc, scale, centre = _exact(w, b)
    exact = rc.num_faces
    counts = [_grid_count(w, b, s) for s in (128, 256, 512)]
    assert all(c <= exact for c in counts)
    assert counts[0] <= counts[-1]
    # the grid misses exactly the faces no grid point falls into
    assert _faces_hit(rc, scale, centre, 512, 1e-6) <= counts[-1] \
        <= _faces_hit(rc, scale, centre, 512, -1e-6)


def _face_widths(rc, scale, centre):
    """Minimal width of every (convex) face: over its edges, the largest vertex distance from
    the edge's line."""
    vertices = np.asarray(rc.vertex_inputs, dtype=np.float64) * scale + centre
    widths = []
    for face in rc.faces:
        v = vertices[np.asarray(face.vertex_ids)]
        v = v[np.argsort(np.arctan2(*(v - v.mean(0)).T[::-1]))]
        edges = np.roll(v, -1, axis=0) - v
        normals = np.stack([edges[:, 1], -edges[:, 0]], 1)
        norm = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = normals[norm[:, 0] > 0] / norm[norm[:, 0] > 0]
        base = v[norm[:, 0] > 0]
        dist = np.abs(((v[None, :, :] - base[:, None, :]) * normals[:, None, :]).sum(-1))
        widths.append(dist.max(axis=1).min())
    return np.asarray(widths)


# A convex region of the plane that holds no point of a square lattice of spacing h has lattice
# width at most 1 + 2/sqrt(3) (Hurkens), so every face wider than that many h holds a point.
LATTICE_FREE_WIDTH = 1 + 2 / np.sqrt(3)


@pytest.mark.slow
def test_fine_grid_is_within_one_percent_once_fine_enough():
    decided = 0
    for seed in range(4):
        w, b = random_mlp(2, [8, 8], seed=seed)
        rc, scale, centre = _exact(w, b)
        exact, size = rc.num_faces, 2048
        count = _grid_count(w, b, size)
        wide = int((_face_widths(rc, scale, centre) > LATTICE_FREE_WIDTH * (HI - LO) / size).sum())
        assert wide <= count <= exact
        if wide >= 0.99 * exact:   # the grid is fine enough for all but 1% of the faces
            decided += 1
            assert count >= 0.99 * exact
    assert decided >= 2


@pytest.mark.parametrize("kinds", [{"slopes": [0.1, 0.2]}, {}])
def test_leaky_and_bias_free_nets_and_other_boxes(kinds):
    w, b = random_mlp(2, [12, 12], seed=4)
    for biases, lo, hi in ((b, -1.0, 1.0), ([None] * 3, -2.0, 2.0)):
        exact = exact_region_count_2d(ReluNetwork.of(w, biases, **kinds), lo, hi)
        g = lo + (hi - lo) * (torch.arange(256, dtype=torch.float64) + 0.5) / 256
        x = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        bits = pattern_bits(ReluNetwork.of(w, biases, **kinds), x)   # reference semantics
        grid = int(torch.unique(bits, dim=0).shape[0])
        assert 1 <= grid <= exact


def test_unsupported_networks_are_refused():
    w, b = random_mlp(2, [4, 4], seed=0)
    with pytest.raises(ValueError, match="residual"):
        exact_region_count_2d(ReluNetwork.of(w, b, residual=[False, True]))
    w1, b1 = random_mlp(1, [4], seed=0)
    with pytest.raises(ValueError, match="2D"):
        exact_region_count_2d(ReluNetwork.of(w1, b1))
    with pytest.raises(TypeError, match="net: expected a ReluNetwork"):
        exact_region_count_2d(w, b)
