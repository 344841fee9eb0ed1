"""Streaming region analysis of a grid: encode, pattern and assign region ids tile by tile.

Only these stay in memory: the table of distinct patterns seen so far (one row per region),
the running statistics, the patterns of the last ``stride(axis 0)`` points (the neighbours a
later tile still needs), and the region ids when they are kept in memory (else they go to a
``.npy`` file tile by tile). So a grid of any size fits as long as its regions do.

The grid is cut into global tiles ``[k * tile, (k + 1) * tile)`` of the row-major point order.
A scan covers a contiguous run of whole tiles (a *block*); the single-process analysis is one
block, the distributed one gives each rank a block (``distributed.analyze_grid``). Every
per-point value is computed on the same tile whichever block holds it, and floating-point
statistics are summed per tile and then over tiles with ``math.fsum`` (correctly rounded, so
independent of how tiles are grouped), which makes the results of any split bit-identical.

Quantities (one scan):
- region ids, numbered by first appearance along the grid order, and the size of every region;
- the histogram of Hamming distances between each point and its next neighbour along each axis
  (every neighbour pair once, across tile and block borders);
- per-neuron on-counts (dead = 0, always-on = number of points);
- optionally, with ``grad_out(coords) -> [T, out]`` (or ``grad_out="output"``: 1 for every
  output, the gradient of the network's output itself), the per-example gradient norms
  ``||g_i||`` (sum, sum of squares, min, max) and per-layer sums of ``||g_i||^2``;
- optionally the first-order boundary distance in coordinate space (``ops.boundary_distance``):
  finite count, sum, sum of squares, min, max;
- optionally, with ``grad_out`` and ``region_grads=True``, every region's norm of the summed
  gradient and sum of gradient norms, exactly, however many tiles it spans
  (``region_grads.py``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import torch

from .. import ops
from ..ops.coordinates import boundary_distance
from ..data.grids import CoordinateGrid, PlaneSlice
from ..measure.region_gradients import RegionGrads, coherence, coherence_stats
from ..measure.summaries import log2_size_histogram
from ..nets.layout import layer_bit_ranges
from ..nets.network import ReluNetwork, relu_network
from .ids_file import NpyIdsWriter
from .region_grads import RegionRows, region_grad_arrays, stats_width, tile_rows

Tensor = torch.Tensor

DEFAULT_TILE = 1 << 18
COHERENCE_BINS = 20
GRAD_KEYS = ("sum", "sum_sq", "min", "max")
BOUNDARY_KEYS = ("finite", "sum", "sum_sq", "min", "max")


def resolve_model(model, encoding=None) -> tuple[ReluNetwork, Any]:
    """``(net, encoding)`` from a ReluNetwork (with ``encoding``: an Encoding module, anything with
    ``affine_sine()``, or None for raw coordinates) or a module with ``.encoding`` and an MLP
    (``CoordinateMLP``: its own encoding is used unless one is given)."""
    if isinstance(model, ReluNetwork):
        return model, encoding
    if encoding is None and hasattr(model, "encoding"):
        encoding = model.encoding
    return relu_network(model), encoding


def check_tile(tile) -> int:
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise ValueError(f"tile: expected an int >= 1 (points per tile), got {tile!r}")
    return tile


def check_grad_out(grad_out):
    """None, a function of a tile's coordinates returning ``[T, out]``, or "output"."""
    if grad_out is None or callable(grad_out) or (isinstance(grad_out, str) and
                                                  grad_out == "output"):
        return grad_out
    raise TypeError("grad_out: expected a function of the coordinates [T, D] returning "
                    f"[T, out], or 'output' (the gradient of the output), got {grad_out!r}")


def _check_grid(grid):
    if not isinstance(grid, (CoordinateGrid, PlaneSlice)):
        raise TypeError("grid: expected a grids.CoordinateGrid or grids.PlaneSlice, got "
                        f"{type(grid).__name__}")
    return grid


def _strides(shape) -> list[int]:
    strides, s = [], 1
    for size in reversed(shape):
        strides.append(s)
        s *= size
    return strides[::-1]


_KEY_SEED = 0x243F6A8885A308D3
_KEY_MUL = 0x9E3779B97F4A7C15 - (1 << 64)   # the odd 64-bit constant, as an int64


def row_keys(patterns: Tensor) -> Tensor:
    """int64 [n]: a 64-bit mix of each pattern row (equal rows, equal keys; distinct rows collide
    with probability ~2^-64 per pair, and collisions are detected, never trusted)."""
    h = torch.full((patterns.shape[0],), _KEY_SEED, dtype=torch.int64, device=patterns.device)
    for w in range(patterns.shape[1]):
        h = (h ^ patterns[:, w]) * _KEY_MUL   # int64 multiply wraps
        h = h ^ (h >> 31)
    return h


class _Table:
    """Distinct patterns in first-appearance order and their counts, in buffers that grow by
    doubling, with a sorted index of row keys: a tile's distinct patterns are looked up by
    binary search and checked row by row, so adding a tile costs its own rows plus a merge of
    the key index (no hashing of the whole table). If two distinct patterns ever share a key, the
    table switches to numbering the whole table with ``region_ids`` on every tile (exact, slower).
    """

    def __init__(self, words: int, device):
        self._rows = torch.zeros((1024, words), dtype=torch.int64, device=device)
        self._counts = torch.zeros(1024, dtype=torch.int64)
        self.size = 0
        self._keys = torch.zeros(0, dtype=torch.int64, device=device)   # sorted
        self._ids = torch.zeros(0, dtype=torch.int64, device=device)    # table row of each key
        self.collided = False

    def __len__(self) -> int:
        return self.size

    @property
    def patterns(self) -> Tensor:
        return self._rows[:self.size]

    @property
    def counts(self) -> Tensor:
        return self._counts[:self.size]

    def _reserve(self, rows: int) -> None:
        cap = self._rows.shape[0]
        if rows <= cap:
            return
        while cap < rows:
            cap *= 2
        grown = self._rows.new_zeros((cap, self._rows.shape[1]))
        grown[:self.size] = self._rows[:self.size]
        counts = self._counts.new_zeros(cap)
        counts[:self.size] = self._counts[:self.size]
        self._rows, self._counts = grown, counts

    def add_tile(self, patterns: Tensor) -> Tensor:
        """Region ids (this table's numbering) of the rows of one tile."""
        local, local_counts = ops.region_ids(patterns)
        r = int(local_counts.numel())
        rows = torch.arange(patterns.shape[0], device=patterns.device)
        first = torch.full((r,), patterns.shape[0], dtype=torch.int64, device=patterns.device)
        first = first.scatter_reduce(0, local, rows, reduce="amin")
        reps = patterns[first]  # the tile's distinct patterns, by first appearance
        to_table = None if self.collided else self._lookup(reps)
        if to_table is None:
            to_table = self._number_all(reps)
        self._counts.index_add_(0, to_table.cpu(), local_counts.cpu())
        return to_table[local]

    def _lookup(self, reps: Tensor) -> Optional[Tensor]:
        known, r = self.size, reps.shape[0]
        keys = row_keys(reps)
        found = torch.zeros(r, dtype=torch.bool, device=reps.device)
        cand = torch.zeros(r, dtype=torch.int64, device=reps.device)
        if known:
            pos = torch.searchsorted(self._keys, keys).clamp_max(known - 1)
            hit = self._keys[pos] == keys
            cand = self._ids[pos]
            found = hit & (self._rows[cand] == reps).all(dim=1)
            if bool((hit & ~found).any()):
                self.collided = True
                return None
        new = ~found
        fresh = int(new.sum())
        new_keys = keys[new]
        if fresh and torch.unique(new_keys).numel() != fresh:
            self.collided = True
            return None
        ids = torch.where(found, cand, torch.zeros_like(cand))
        new_ids = torch.arange(known, known + fresh, dtype=torch.int64, device=reps.device)
        ids[new] = new_ids
        self._reserve(known + fresh)
        self._rows[known:known + fresh] = reps[new]
        self.size = known + fresh
        if fresh:
            order = torch.argsort(new_keys)
            sk, sid = new_keys[order], new_ids[order]
            at = torch.searchsorted(self._keys, sk) + torch.arange(fresh, device=reps.device)
            keep = torch.ones(known + fresh, dtype=torch.bool, device=reps.device)
            keep[at] = False
            merged_k = torch.empty(known + fresh, dtype=torch.int64, device=reps.device)
            merged_i = torch.empty_like(merged_k)
            merged_k[at], merged_i[at] = sk, sid
            merged_k[keep], merged_i[keep] = self._keys, self._ids
            self._keys, self._ids = merged_k, merged_i
        return ids

    def _number_all(self, reps: Tensor) -> Tensor:
        # The table rows come first and are distinct, so they keep ids 0..G-1 and the tile's new
        # patterns get G, G+1, ... in their order of first appearance: global first appearance.
        known, r = self.size, reps.shape[0]
        self._reserve(known + r)
        self._rows[known:known + r] = reps
        merged, _ = ops.region_ids(self._rows[:known + r])
        to_table = merged[known:]
        new = to_table >= known
        fresh = int(new.sum())
        if fresh:
            self._rows[known:known + fresh] = self._rows[known:known + r][new].clone()
        self.size = known + fresh
        return to_table


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


class _Scanner:
    def __init__(self, model, grid, *, encoding=None, tile: int = DEFAULT_TILE,
                 grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                 boundary: bool = False, region_grads: bool = False, device="cpu",
                 dtype=torch.float32):
        self.net, self.encoding = resolve_model(model, encoding)
        self.grid = _check_grid(grid)
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

    # -- a block --------------------------------------------------------------------------
    def scan(self, tile_lo: int, tile_hi: int, sink=None, keep_ids: bool = True) -> BlockScan:
        """Scan the tiles [tile_lo, tile_hi). Ids go to ``sink.write`` tile by tile if given,
        else they are kept in memory when ``keep_ids``."""
        start = min(tile_lo * self.tile, self.n)
        stop = min(tile_hi * self.tile, self.n)
        table = _Table(self.words, self.device)
        hist = torch.zeros((len(self.shape), self.bits + 1), dtype=torch.int64)
        on = torch.zeros(self.bits, dtype=torch.int64)
        grad_rows, boundary_rows, id_parts, region_parts = [], [], [], []
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
            if self.region_grads else None)

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


def finish(scanner: _Scanner, counts: Tensor, hist: Tensor, on: Tensor, grad_tiles, boundary_tiles,
           ids=None, ids_path=None, region_arrays=None) -> GridAnalysis:
    """The result from combined counts and statistics; ``region_arrays``: (norm_of_sum,
    sum_of_norms) [R] when the region gradients were measured."""
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
        region_grads=grads)


def analyze_stream(model, grid, *, encoding=None, tile: int = DEFAULT_TILE,
                   ids: str = "memory", ids_path: Optional[str] = None,
                   grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                   boundary: bool = False, region_grads: bool = False, device="cpu",
                   dtype=torch.float32) -> GridAnalysis:
    """Analyse ``grid`` (CoordinateGrid or PlaneSlice) for ``model`` in one process, tile by tile.

    ``model``: a ReluNetwork (then ``encoding`` maps coordinates to its input; None = raw) or a
    CoordinateMLP-like module. ``ids``: "memory" (a grid-shaped int64 tensor), "file" (written to
    ``ids_path``, a ``.npy`` file that ``numpy.load(..., mmap_mode="r")`` opens) or "none".
    Peak memory: one tile's coordinates, encoded inputs and patterns, the distinct-pattern table,
    ``stride(axis 0)`` pattern rows, and the ids if in memory; with ``region_grads``, one row of
    ``2 + out * (d + 1)`` float64 per region and tile it meets.
    """
    if ids not in ("memory", "file", "none"):
        raise ValueError(f"ids: expected 'memory', 'file' or 'none', got {ids!r}")
    if (ids == "file") != (ids_path is not None):
        raise ValueError("ids_path: give a path exactly when ids='file'")
    scanner = _Scanner(model, grid, encoding=encoding, tile=tile, grad_out=grad_out,
                       boundary=boundary, region_grads=region_grads, device=device, dtype=dtype)
    writer = NpyIdsWriter(ids_path, scanner.shape) if ids == "file" else None
    try:
        block = scanner.scan(0, scanner.num_tiles, sink=writer, keep_ids=ids == "memory")
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    arrays = None
    if block.region_rows is not None:
        arrays = region_grad_arrays(block.region_rows, block.table_patterns, scanner.net,
                                    int(block.table_counts.numel()))
    return finish(scanner, block.table_counts, block.neighbor_hist, block.bit_counts,
                  block.grad_tiles, block.boundary_tiles, ids=block.ids,
                  ids_path=ids_path if ids == "file" else None, region_arrays=arrays)
