"""Grid-analysis cases shared by the streaming and distributed tests (importable by spawned
worker processes): small coordinate networks, grids, and the in-memory path to compare with."""
from __future__ import annotations

import torch

from specbias_ext import ops
from specbias_ext.data.grids import CoordinateGrid, PlaneSlice
from specbias_ext.nets.models import CoordinateMLP


def wavy_grad_out(coords):
    """A grad_out that depends on the points (as a loss gradient would)."""
    return torch.sin(3.0 * coords.sum(dim=1, keepdim=True)) + 0.25


CASES = {
    # name: (grid, model kwargs, analysis kwargs)
    "2d": (lambda: CoordinateGrid((23, 17), (-1.0, 1.0)),
           dict(encoding="pe:2", depth=2, width=24, in_dim=2, seed=1),
           dict(tile=50, grad_out=wavy_grad_out, boundary=True)),
    "3d": (lambda: CoordinateGrid((6, 5, 7), (0.0, 1.0)),
           dict(encoding="pe:1", depth=2, width=20, in_dim=3, seed=2),
           dict(tile=16)),
    "1d": (lambda: CoordinateGrid((301,), (-3.0, 3.0)),
           dict(encoding="raw", depth=3, width=40, in_dim=1, seed=3),
           dict(tile=7, grad_out=wavy_grad_out)),
    "plane": (lambda: PlaneSlice([0.1, -0.5, 0.3], [1.0, 0.5, 0.0], [0.0, 0.3, 1.2], (19, 21)),
              dict(encoding="pe:2", depth=2, width=16, in_dim=3, seed=4),
              dict(tile=64, boundary=True)),
    "tiny": (lambda: CoordinateGrid((2,), (0.0, 1.0)),
             dict(encoding="raw", depth=1, width=5, in_dim=1, seed=5),
             dict(tile=4)),
}


def make_case(name):
    grid, model_kw, kw = CASES[name]
    return grid(), CoordinateMLP(**model_kw).eval(), dict(kw)


def in_memory(model, grid):
    """Every quantity from the whole grid at once, through the ops (the in-memory path)."""
    coords = grid.coords()
    with torch.no_grad():
        x = model.encode(coords)
    net = __import__("specbias_ext").relu_network(model)
    p = ops.activation_patterns(x, net)
    ids, counts = ops.region_ids(p)
    bits = sum(w.shape[0] for w in net.weights[:-1])
    hist = torch.stack([torch.bincount(d.flatten(), minlength=bits + 1)
                        for d in ops.hamming_neighbors(p, list(grid.shape))])
    return dict(coords=coords, x=x, net=net, patterns=p, ids=ids.reshape(grid.shape),
                counts=counts, hist=hist, on=ops.bit_counts(p, bits))
