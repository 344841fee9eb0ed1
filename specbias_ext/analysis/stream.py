"""Streaming region analysis of a grid: encode, pattern and assign region ids tile by tile.

Only these stay in memory: the table of distinct patterns seen so far (one row per region),
the running statistics, the patterns of the last ``stride(axis 0)`` points (the neighbours a
later tile still needs), and the region ids when they are kept in memory (else they go to a
``.npy`` file tile by tile). So a grid of any size fits as long as its regions do.

The grid is cut into global tiles ``[k * tile, (k + 1) * tile)`` of the row-major point order.
A scan covers a contiguous run of whole tiles (a *block*, ``tile_scan``); the single-process
analysis is one block, the sharded one gives each rank a block (``sharded``). Every per-point
value is computed on the same tile whichever block holds it, and floating-point statistics are
summed per tile and then over tiles with ``math.fsum`` (correctly rounded, so independent of
how tiles are grouped; ``result``), which makes the results of any split bit-identical.

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
  (``region_grads.py``);
- optionally, with ``lc_radius``, the local complexity of every point (``lc_method``: "sampled",
  the neurons whose sign is not the same at the 2 x D axis vertices at that radius around the
  point, or "first_order"; ``measure.local_complexity``, docs/local_complexity.md), computed
  tile by tile (no vertex pattern outlives its tile): the histogram of the per-point totals and
  the per-layer sums (integers, so any split adds up to the same summary), with the ids in
  memory every point's per-layer counts, and with the ids in a file every point's total in a
  file beside it (``outputs.lc_file_path``), written the same way.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from .arguments import check_ids
from .ids_file import IDS_DTYPE, LC_TOTAL_DTYPE, npy_files
from .outputs import lc_file_path
from .region_grads import region_grad_arrays
from .result import GridAnalysis, assemble_result
from .tile_scan import DEFAULT_TILE, TileScanner

Tensor = torch.Tensor


def analyze_stream(model, grid, *, encoding=None, tile: int = DEFAULT_TILE,
                   ids: str = "memory", ids_path: Optional[str] = None,
                   grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                   boundary: bool = False, region_grads: bool = False,
                   lc_radius: Optional[float] = None, lc_method: str = "sampled", device="cpu",
                   dtype=torch.float32) -> GridAnalysis:
    """Analyse ``grid`` (CoordinateGrid or PlaneSlice) for ``model`` in one process, tile by tile.

    ``model``: a ReluNetwork (then ``encoding`` maps coordinates to its input; None = raw) or a
    CoordinateMLP-like module. ``ids``: "memory" (a grid-shaped int64 tensor), "file" (written to
    ``ids_path``, a ``.npy`` file that ``numpy.load(..., mmap_mode="r")`` opens) or "none".
    With ``ids="file"`` and ``lc_radius``, every point's local-complexity total (int32
    ``[*shape]``, ``LocalComplexity.total``) is written likewise to ``result.lc_path``
    (``outputs.lc_file_path(ids_path)``: ``<name>_ids.npy`` -> ``<name>_lc.npy``); both files
    are put in place when the scan is complete (an existing file is replaced), neither when it
    fails.
    Peak memory: one tile's coordinates, encoded inputs and patterns, the distinct-pattern table,
    ``stride(axis 0)`` pattern rows, and the ids if in memory; with ``region_grads``, one row of
    ``2 + out * (d + 1)`` float64 per region and tile it meets; with ``lc_radius``, one tile's
    local complexity (``measure.local_complexity``) and with ids in memory its per-point counts.
    """
    check_ids(ids)
    if (ids == "file") != (ids_path is not None):
        raise ValueError("ids_path: give a path exactly when ids='file'")
    scanner = TileScanner(model, grid, encoding=encoding, tile=tile, grad_out=grad_out,
                          boundary=boundary, region_grads=region_grads, lc_radius=lc_radius,
                          lc_method=lc_method, device=device, dtype=dtype)
    ids_spec = lc_spec = lc_path = None
    if ids == "file":
        ids_spec = (ids_path, scanner.shape, IDS_DTYPE)
        if scanner.lc_radius is not None:
            lc_path = lc_file_path(ids_path)
            lc_spec = (lc_path, scanner.shape, LC_TOTAL_DTYPE)
    with npy_files(ids_spec, lc_spec) as (ids_writer, lc_writer):
        block = scanner.scan(0, scanner.num_tiles, sink=ids_writer, keep_ids=ids == "memory",
                             lc_sink=lc_writer)
    arrays = None
    if block.region_rows is not None:
        arrays = region_grad_arrays(block.region_rows, block.table_patterns, scanner.net,
                                    int(block.table_counts.numel()))
    return assemble_result(scanner, block.table_counts, block.neighbor_hist, block.bit_counts,
                           block.grad_tiles, block.boundary_tiles, ids=block.ids,
                           ids_path=ids_path if ids == "file" else None, region_arrays=arrays,
                           lc=None if block.lc_hist is None else
                           (block.lc_hist, block.lc_layer_sums, block.lc_counts),
                           lc_path=lc_path)
