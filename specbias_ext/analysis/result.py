"""The result of a grid analysis (``GridAnalysis``) and its summary: region sizes, neighbour
Hamming histograms, neuron on-counts, and the per-tile statistics summed over tiles in a fixed
order (``math.fsum``), so that any split into blocks or ranks gives the same numbers."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from ..measure.complexity import complexity_summary
from ..measure.region_gradients import RegionGrads, coherence, coherence_stats
from ..measure.summaries import log2_size_histogram
from ..nets.layout import layer_bit_ranges
from .tile_scan import TileScanner

Tensor = torch.Tensor

COHERENCE_BINS = 20


@dataclass
class GridAnalysis:
    """The results of a grid analysis (single-process or distributed: identical)."""

    grid: dict
    num_points: int
    region_counts: Tensor                 # int64 [R], region r's number of points
    neighbor_hist: Tensor                 # int64 [D, bits + 1]
    bit_counts: Tensor                    # int64 [bits]
    layer_bits: list
    tile: int
    grad_norm: Optional[dict] = None
    boundary_distance: Optional[dict] = None
    ids: Optional[Tensor] = None          # int64 grid-shaped, when kept in memory
    ids_path: Optional[str] = None
    region_grads: Optional[RegionGrads] = None  # [R] each, with region_grads=True
    lc_hist: Optional[Tensor] = None      # int64 [bits + 1], points per local-complexity total
    lc_layer_sums: Optional[Tensor] = None  # int64 [layers], per-layer counts summed
    lc_settings: Optional[dict] = None    # radius, method, directions, centre
    lc_counts: Optional[Tensor] = None    # int32 [*shape, layers], when the ids are in memory
    lc_path: Optional[str] = None         # .npy of every point's total, int32 [*shape], when
    #                                       the ids go to a file (outputs.lc_file_path)
    extra: dict = field(default_factory=dict)

    @property
    def num_regions(self) -> int:
        return int(self.region_counts.numel())

    def summary(self) -> dict:
        if "summary" in self.extra:  # a non-root rank of a distributed run
            return dict(self.extra["summary"])
        n = self.num_points
        dead = [int((self.bit_counts[a:b] == 0).sum()) for a, b in self.layer_bits]
        on = [int((self.bit_counts[a:b] == n).sum()) for a, b in self.layer_bits]
        pairs = self.neighbor_hist.sum(dim=1)
        changed = pairs - self.neighbor_hist[:, 0]
        levels = torch.arange(self.neighbor_hist.shape[1], dtype=torch.int64)
        dist_sum = (self.neighbor_hist * levels).sum(dim=1)
        total = int(pairs.sum())
        out = {
            "grid": self.grid, "points": n, "tile": self.tile,
            "regions": self.num_regions,
            "largest_region": int(self.region_counts.max()) if self.num_regions else 0,
            "largest_region_frac": (int(self.region_counts.max()) / n) if n else None,
            "region_size_hist_log2": log2_size_histogram(self.region_counts),
            "neighbor_pairs_per_axis": pairs.tolist(),
            "neighbor_boundary_frac_per_axis": [(int(c) / int(p)) if int(p) else None
                                                for c, p in zip(changed, pairs)],
            "neighbor_mean_hamming_per_axis": [(int(s) / int(p)) if int(p) else None
                                               for s, p in zip(dist_sum, pairs)],
            "neighbor_boundary_frac": (int(changed.sum()) / total) if total else None,
            "dead_neurons": sum(dead), "dead_neurons_per_layer": dead,
            "always_on_neurons": sum(on), "always_on_neurons_per_layer": on,
        }
        if self.grad_norm is not None:
            out["grad_norm"] = self.grad_norm
        if self.boundary_distance is not None:
            out["boundary_distance"] = self.boundary_distance
        if self.lc_hist is not None:
            out["local_complexity"] = complexity_summary(
                self.lc_hist, self.lc_layer_sums, [b - a for a, b in self.layer_bits],
                self.lc_settings)
        if self.region_grads is not None:
            st = coherence_stats(self.region_grads, self.region_counts, COHERENCE_BINS)
            out["region_grads"] = {"norm_of_sum": st.norm_of_sum, "coherence_multi": st.multi,
                                   "coherence_weighted": st.weighted,
                                   "coherence_hist": st.hist, "coherence_bins": COHERENCE_BINS}
        out.update(self.extra)
        return out


def _fsum_rows(rows: Tensor, col: int) -> float:
    return math.fsum(rows[:, col].tolist())


def grad_summary(tiles: Tensor, n: int) -> Optional[dict]:
    """Mean, std, min, max of ||g_i|| and per-layer shares of sum ||g_i||^2, from per-tile rows."""
    if tiles is None:
        return None
    if tiles.shape[0] == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "layer_share": None}
    s, s2 = _fsum_rows(tiles, 0), _fsum_rows(tiles, 1)
    mean = s / n
    layers = [_fsum_rows(tiles, c) for c in range(4, tiles.shape[1])]
    total = math.fsum(layers)
    return {"mean": mean, "std": math.sqrt(max(s2 / n - mean * mean, 0.0)),
            "min": float(tiles[:, 2].min()), "max": float(tiles[:, 3].max()),
            "sum_sq": s2, "layer_share": [v / total for v in layers] if total > 0 else None}


def boundary_summary(tiles: Tensor, n: int) -> Optional[dict]:
    """Finite count, mean, std, min, max of the boundary distance, from per-tile rows."""
    if tiles is None:
        return None
    finite = int(round(_fsum_rows(tiles, 0))) if tiles.shape[0] else 0
    if finite == 0:
        return {"finite": 0, "infinite": n, "mean": None, "std": None, "min": None, "max": None}
    s, s2 = _fsum_rows(tiles, 1), _fsum_rows(tiles, 2)
    mean = s / finite
    return {"finite": finite, "infinite": n - finite, "mean": mean,
            "std": math.sqrt(max(s2 / finite - mean * mean, 0.0)),
            "min": float(tiles[:, 3].min()), "max": float(tiles[:, 4].max())}


def assemble_result(scanner: TileScanner, counts: Tensor, hist: Tensor, on: Tensor, grad_tiles,
                    boundary_tiles, ids=None, ids_path=None, region_arrays=None,
                    lc=None, lc_path=None) -> GridAnalysis:
    """The result from combined counts and statistics; ``region_arrays``: (norm_of_sum,
    sum_of_norms) [R] when the region gradients were measured; ``lc``: (histogram of totals,
    per-layer sums, per-point counts [N, layers] or None) when the local complexity was, and
    ``lc_path`` the file of its per-point totals when they were written to one."""
    grads = None
    if region_arrays is not None:
        nos, son = region_arrays
        grads = RegionGrads(nos, son, coherence(nos, son))
    return GridAnalysis(
        grid=scanner.grid.describe(), num_points=scanner.n, region_counts=counts,
        neighbor_hist=hist, bit_counts=on, layer_bits=layer_bit_ranges(scanner.weights),
        tile=scanner.tile, grad_norm=grad_summary(grad_tiles, scanner.n),
        boundary_distance=boundary_summary(boundary_tiles, scanner.n),
        ids=None if ids is None else ids.reshape(scanner.shape), ids_path=ids_path,
        region_grads=grads,
        lc_hist=None if lc is None else lc[0], lc_layer_sums=None if lc is None else lc[1],
        lc_settings=scanner.lc_settings,
        lc_counts=None if lc is None or lc[2] is None else lc[2].reshape(scanner.shape + (-1,)),
        lc_path=lc_path)
