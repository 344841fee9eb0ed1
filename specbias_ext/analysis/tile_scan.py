"""The scan of a block of whole tiles of a grid: encode, pattern and number the points tile by
tile, and keep the per-tile statistics (see ``stream`` for the method).

The grid is cut into global tiles ``[k * tile, (k + 1) * tile)`` of the row-major point order; a
block is a contiguous run of whole tiles. Every per-point value is computed on the same tile
whichever block holds it, so the blocks of any split give the values of one whole scan.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch

from .. import ops
from ..measure.complexity import LocalComplexity, local_complexity_of_grid
from ..ops.coordinates import boundary_distance
from .arguments import check_grad_out, check_grid, check_lc, check_tile, resolve_model
from .pattern_table import PatternTable
from .region_grads import RegionRows, stats_width, tile_rows

Tensor = torch.Tensor

DEFAULT_TILE = 1 << 18
#: The columns of a block's per-tile rows: ``grad_tiles`` (then one sum of ||g_i||^2 per layer)
#: and ``boundary_tiles``.
GRAD_KEYS = ("sum", "sum_sq", "min", "max")
BOUNDARY_KEYS = ("finite", "sum", "sum_sq", "min", "max")


def _strides(shape) -> list[int]:
    strides, s = [], 1
    for size in reversed(shape):
        strides.append(s)
        s *= size
    return strides[::-1]


@dataclass
class BlockScan:
    """What one scan of the tiles ``[tile_lo, tile_hi)`` found (ids in the block's own
    first-appearance numbering, which is the order of the table)."""

    start: int
    stop: int
    table_patterns: Tensor
    table_counts: Tensor
    neighbor_hist: Tensor                # int64 [D, bits + 1]
    bit_counts: Tensor                   # int64 [bits]
    grad_tiles: Optional[Tensor] = None  # float64 [tiles, 4 + layers]
    boundary_tiles: Optional[Tensor] = None  # float64 [tiles, 5]
    ids: Optional[Tensor] = None         # int64 [stop - start] when kept in memory
    region_rows: Optional[RegionRows] = None  # per (table row, tile), with region_grads
    lc_hist: Optional[Tensor] = None     # int64 [bits + 1]: points per local-complexity total
    lc_layer_sums: Optional[Tensor] = None   # int64 [layers]: per-layer counts summed
    lc_counts: Optional[Tensor] = None   # int32 [stop - start, layers] when ids are kept


class TileScanner:
    """The network (on ``device``, in ``dtype``), the grid cut into tiles, and what is measured
    per tile; ``scan`` runs over a block of whole tiles."""

    def __init__(self, model, grid, *, encoding=None, tile: int = DEFAULT_TILE,
                 grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                 boundary: bool = False, region_grads: bool = False,
                 lc_radius: Optional[float] = None, lc_method: str = "sampled", device="cpu",
                 dtype=torch.float32):
        self.grid = check_grid(grid)
        self.net, self.encoding = resolve_model(model, encoding,
                                                coord_dim=self.grid.dim)
        self.tile = check_tile(tile)
        if isinstance(check_grad_out(grad_out), str):   # "output"
            out_dim = self.net.out_dim
            grad_out = lambda coords: coords.new_ones((coords.shape[0], out_dim))  # noqa: E731
        self.grad_out = grad_out
        self.region_grads = bool(region_grads)
        if self.region_grads and grad_out is None:
            raise ValueError("region_grads: the region gradient norms need grad_out (the "
                             "gradient of the loss with respect to the output at each point)")
        self.boundary = bool(boundary)
        self.device = torch.device(device)
        self.dtype = dtype
        # Same description (slopes, skips, residual kept), parameters on this device and dtype.
        self.net = dataclasses.replace(
            self.net, weights=tuple(w.detach().to(self.device, dtype) for w in self.net.weights),
            biases=tuple(None if b is None else b.detach().to(self.device, dtype)
                         for b in self.net.biases))
        self.weights = list(self.net.weights)
        self.bits = sum(int(w.shape[0]) for w in self.weights[:-1])
        self.words = (self.bits + 63) // 64
        self.shape = tuple(grid.shape)
        self.strides = _strides(self.shape)
        self.n = grid.num_points
        self.num_tiles = (self.n + self.tile - 1) // self.tile
        self.lc_radius, self.lc_method = check_lc(lc_radius, lc_method)
        self.lc_settings = None
        if self.lc_radius is not None:   # what every tile's counts are measured with
            self.lc_settings = self.local_complexity(0, 0).settings()

    # -- per tile -------------------------------------------------------------------------
    def coords(self, a: int, b: int) -> Tensor:
        return self.grid.coords(a, b, dtype=self.dtype, device=self.device)

    def encode(self, coords: Tensor) -> Tensor:
        if self.encoding is None:
            return coords
        with torch.no_grad():
            return self.encoding(coords).detach()

    def tile_range(self, k: int) -> tuple[int, int]:
        return k * self.tile, min((k + 1) * self.tile, self.n)

    def patterns_of_tiles(self, k0: int, k1: int) -> Tensor:
        parts = []
        for k in range(k0, k1):
            a, b = self.tile_range(k)
            parts.append(ops.activation_patterns(self.encode(self.coords(a, b)), self.net))
        if not parts:
            return torch.zeros((0, self.words), dtype=torch.int64, device=self.device)
        return torch.cat(parts)

    def halo(self, start: int) -> Tensor:
        """Patterns of the points [start - stride0, start), from the whole tiles that hold them
        (so they are the values the block before computed)."""
        lo = max(0, start - self.strides[0])
        if lo == start:
            return torch.zeros((0, self.words), dtype=torch.int64, device=self.device)
        k0 = lo // self.tile
        p = self.patterns_of_tiles(k0, start // self.tile)
        return p[lo - k0 * self.tile:]

    def neighbor_counts(self, buffer: Tensor, base: int, a: int, b: int) -> Tensor:
        """Histogram [D, bits + 1] of the pairs (j - stride, j) along each axis with j in [a, b);
        ``buffer`` holds the patterns of the points base..b-1."""
        hist = torch.zeros((len(self.shape), self.bits + 1), dtype=torch.int64)
        j = torch.arange(a, b, dtype=torch.int64, device=buffer.device)
        for axis, (size, stride) in enumerate(zip(self.shape, self.strides)):
            jj = j[(j // stride) % size != 0]
            if jj.numel() == 0:
                continue
            d = ops.hamming_pairs(buffer, jj - stride - base, jj - base)
            hist[axis] += torch.bincount(d.cpu(), minlength=self.bits + 1)
        return hist

    def grad_values(self, coords: Tensor, x: Tensor) -> Tensor:
        g = self.grad_out(coords)
        if not isinstance(g, Tensor) or g.dim() != 2 or g.shape[0] != coords.shape[0]:
            raise ValueError(f"grad_out: expected a tensor [{coords.shape[0]}, out] for "
                             f"{coords.shape[0]} points, got "
                             f"{list(g.shape) if isinstance(g, Tensor) else type(g).__name__}")
        return g.detach().to(x.device, x.dtype)

    def grad_stats(self, x: Tensor, g: Tensor) -> Tensor:
        sq = ops.per_example_grad_norms(x, self.net, g).to(torch.float64)
        norms = sq.sum(dim=1).clamp_min(0).sqrt()
        head = torch.stack([norms.sum(), (norms * norms).sum(), norms.min(), norms.max()])
        return torch.cat([head, sq.sum(dim=0)]).cpu()

    def boundary_stats(self, coords: Tensor) -> Tensor:
        dist, _ = boundary_distance(coords, self.encoding, self.net)
        d = dist.to(torch.float64)
        d = d[torch.isfinite(d)]
        if d.numel() == 0:
            return torch.tensor([0.0, 0.0, 0.0, math.inf, -math.inf], dtype=torch.float64)
        return torch.stack([torch.tensor(float(d.numel()), dtype=torch.float64), d.sum(),
                            (d * d).sum(), d.min(), d.max()]).cpu()

    def local_complexity(self, a: int, b: int) -> LocalComplexity:
        return local_complexity_of_grid(self.grid, self.encoding, self.net, self.lc_radius,
                                        start=a, stop=b, method=self.lc_method,
                                        dtype=self.dtype, device=self.device)

    # -- a block --------------------------------------------------------------------------
    def scan(self, tile_lo: int, tile_hi: int, sink=None, keep_ids: bool = True,
             lc_sink=None) -> BlockScan:
        """Scan the tiles [tile_lo, tile_hi). Ids go to ``sink.write`` tile by tile if given,
        else they are kept in memory when ``keep_ids``. With the local complexity, every
        point's total goes to ``lc_sink.write`` tile by tile if given, and its per-layer counts
        are kept with ids kept in memory."""
        start = min(tile_lo * self.tile, self.n)
        stop = min(tile_hi * self.tile, self.n)
        table = PatternTable(self.words, self.device)
        hist = torch.zeros((len(self.shape), self.bits + 1), dtype=torch.int64)
        on = torch.zeros(self.bits, dtype=torch.int64)
        grad_rows, boundary_rows, id_parts, region_parts, lc_parts = [], [], [], [], []
        lc = self.lc_radius is not None
        widths = [int(w.shape[0]) for w in self.weights[:-1]]
        lc_hist = torch.zeros(self.bits + 1, dtype=torch.int64)
        lc_sums = torch.zeros(len(widths), dtype=torch.int64)
        writer = sink
        prev = self.halo(start)
        keep = self.strides[0]
        with torch.no_grad():
            for k in range(tile_lo, tile_hi):
                a, b = self.tile_range(k)
                if a >= b:
                    break
                coords = self.coords(a, b)
                x = self.encode(coords)
                p = ops.activation_patterns(x, self.net)
                ids = table.add_tile(p)
                if writer is not None:
                    writer.write(ids)
                elif keep_ids:
                    id_parts.append(ids.cpu())
                on += ops.bit_counts(p, self.bits).cpu()
                buffer = torch.cat([prev, p])
                hist += self.neighbor_counts(buffer, a - prev.shape[0], a, b)
                prev = buffer[max(0, buffer.shape[0] - keep):]
                if self.grad_out is not None:
                    g = self.grad_values(coords, x)
                    grad_rows.append(self.grad_stats(x, g))
                    if self.region_grads:
                        region_parts.append(tile_rows(x, self.net, g, ids, k))
                if self.boundary:
                    boundary_rows.append(self.boundary_stats(coords))
                if lc:
                    counts = self.local_complexity(a, b)
                    lc_hist += counts.total_histogram()
                    lc_sums += counts.layer_sums()
                    if lc_sink is not None:
                        lc_sink.write(counts.total)
                    if writer is None and keep_ids:
                        lc_parts.append(counts.counts.cpu())
        grad_width = 4 + len(self.weights)
        return BlockScan(
            start=start, stop=stop, table_patterns=table.patterns,
            table_counts=table.counts, neighbor_hist=hist, bit_counts=on,
            grad_tiles=(torch.stack(grad_rows) if grad_rows else
                        torch.zeros((0, grad_width), dtype=torch.float64))
            if self.grad_out is not None else None,
            boundary_tiles=(torch.stack(boundary_rows) if boundary_rows else
                            torch.zeros((0, 5), dtype=torch.float64)) if self.boundary else None,
            ids=(torch.cat(id_parts) if id_parts else torch.zeros(0, dtype=torch.int64))
            if (writer is None and keep_ids) else None,
            region_rows=RegionRows.cat(region_parts, stats_width(self.net))
            if self.region_grads else None,
            lc_hist=lc_hist if lc else None, lc_layer_sums=lc_sums if lc else None,
            lc_counts=(torch.cat(lc_parts) if lc_parts else
                       torch.zeros((0, len(widths)), dtype=torch.int32))
            if (lc and writer is None and keep_ids) else None)

    def block_tiles(self, parts: int, sizes=None) -> list[tuple[int, int]]:
        """Contiguous tile ranges for ``parts`` blocks: even, or ``sizes`` tiles each."""
        if sizes is None:
            cuts = [(r * self.num_tiles) // parts for r in range(parts + 1)]
        else:
            sizes = [int(s) for s in sizes]
            if len(sizes) != parts or min(sizes) < 0 or sum(sizes) != self.num_tiles:
                raise ValueError(f"block_tiles: expected {parts} non-negative tile counts summing "
                                 f"to {self.num_tiles} (the grid's tiles), got {sizes}")
            cuts = [0]
            for s in sizes:
                cuts.append(cuts[-1] + s)
        return list(zip(cuts[:-1], cuts[1:]))
