"""Region counts that know their limits: 2D counts on a supersampled analysis grid with their
number of points, saturation flag and convergence (``statistics.GridCount``), and certified 1D
counts (``certified1d``; exact for raw inputs)."""
from __future__ import annotations

import torch

from .. import measure
from ..exact.certified1d import certified_regions_1d
from ..data.grids import grid_coords
from ..stats.grid_counts import GridCount, grid_region_count
from .tasks import TrainedSet
from .variants import Variant


def _encoded(task, variant: Variant, side: int, device):
    """Encoded points of a ``side``-per-axis grid of the variant's box, float32 unless the
    encoding needs float64 to resolve its top frequency."""
    enc = task.encoding(variant)
    dims = len(task.grid_shape)
    coords = grid_coords((side,) * dims, variant.coord_range, dtype=torch.float64)
    x = enc(coords)
    wide = enc.needs_float64(torch.float32)
    return (x if wide else x.float()).to(device), wide


def grid_count(tset: TrainedSet, variant: Variant, seed: int, k: int, factor: int,
               saturation: float, device) -> GridCount:
    """Region count of model (variant, seed) at record k on a grid ``factor`` times finer per
    axis than the training grid (same box), with counts at 1/4 and 1/2 of its points."""
    task = tset.task
    side = task.grid_shape[0] * int(factor)
    net = tset.network(variant, seed, k).to(device)

    def count_at(s: int) -> int:
        x, wide = _encoded(task, variant, s, device)
        return measure.region_count(measure.patterns(x, net.to(torch.float64) if wide else net))

    return grid_region_count(count_at, side, dims=len(task.grid_shape), saturation=saturation)


def certified_count_1d(tset: TrainedSet, variant: Variant, seed: int, k: int = -1) -> dict:
    """Certified region count on the variant's whole segment (``CertifiedRegions1D.to_json``)."""
    net = tset.network(variant, seed, k).to("cpu")
    lo, hi = variant.coord_range
    enc = None if variant.encoding == "raw" else tset.task.encoding(variant)
    return certified_regions_1d(net, enc, lo, hi).to_json()
