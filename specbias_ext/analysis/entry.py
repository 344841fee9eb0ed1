"""``analyze_grid``, the grid analysis' entry point: the streaming analysis in one process
(``stream``), or sharded over the processes of a torch.distributed group (``sharded``), with
bit-identical results, and its files written when an output folder is given (``outputs``)."""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Union

import torch
import torch.distributed as dist

from .arguments import check_ids
from .outputs import ids_file_path, write_outputs
from .result import GridAnalysis
from .sharded import analyze_sharded
from .stream import analyze_stream
from .tile_scan import DEFAULT_TILE

Tensor = torch.Tensor


def analyze_grid(model, grid, *, encoding=None, tile: int = DEFAULT_TILE, ids: str = "memory",
                 out: Optional[str] = None, name: Optional[str] = None,
                 grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                 boundary: bool = False,
                 region_grads: bool = False, lc_radius: Optional[float] = None,
                 lc_method: str = "sampled", device="cpu", dtype=torch.float32, group=None,
                 block_tiles: Optional[Sequence[int]] = None) -> GridAnalysis:
    """Region analysis of ``grid`` for ``model``, on one process or sharded over a group.

    Without an initialised torch.distributed (or in a group of one) this is the streaming
    single-process analysis. Inside an initialised process group (``group=None``: the default
    group) every rank of the group must call it with the same arguments; each scans a block of
    whole tiles (``block_tiles``: tiles per rank, default an even split) and the result equals
    the single-process one bit for bit. Rank 0 gets the full ``GridAnalysis`` (with the ids if
    ``ids="memory"``); the other ranks get it without ids.

    ``ids``: "memory", "file" (``<out>/<name>_ids.npy``, needs ``out``) or "none". With ``out``,
    rank 0 writes ``<name>.json`` and ``<name>.npz`` atomically (``name`` defaults to
    ``regions_<shape>``; the summary's provenance, apart from it, says how many processes
    wrote it, see ``outputs``). ``device`` is the device of this rank (e.g. ``cuda:<local_rank>``).
    ``grad_out``: a function of a tile's coordinates returning dloss/df ``[T, out]``, or
    "output" (ones: the gradient of the output itself); it adds per-example gradient-norm
    statistics, and ``region_grads=True`` adds every region's ``||sum_i g_i||``,
    ``sum_i ||g_i||`` and coherence, exact across tiles and ranks. ``lc_radius`` (coordinate
    units; the grid step ``grid.step`` is the natural choice) adds the local complexity
    (``lc_method`` "sampled" or "first_order", docs/local_complexity.md): its summary (mean,
    quantiles, per-layer means) under "local_complexity", with ``ids="memory"`` every
    point's per-layer counts (``result.lc_counts``, ``[*shape, layers]``), and with
    ``ids="file"`` every point's total in ``<out>/<name>_lc.npy`` (int32 ``[*shape]``,
    ``result.lc_path``), written by rank 0 like the ids file.
    Collective traffic: the distinct-pattern tables (each row sent once to the rank that owns
    its pattern, see ``combine_tables``), the region sizes (to rank 0 in chunks), per-tile
    statistics, with region gradients one row per region and tile (to the rank owning the
    region's id chunk), and, when ids are wanted, the ids (streamed to rank 0 in chunks), with
    the local-complexity totals after them when they go to a file.
    """
    check_ids(ids)
    if ids == "file" and out is None:
        raise ValueError("out: ids='file' writes <out>/<name>_ids.npy; give an output folder")
    if out is not None and os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out: {out!r} exists and is not a folder")
    distributed = dist.is_available() and dist.is_initialized() and \
        dist.get_world_size(group) > 1
    if not distributed:
        return _single(model, grid, encoding, tile, ids, out, name, grad_out, boundary,
                       region_grads, device, dtype, block_tiles, lc_radius, lc_method)
    return analyze_sharded(model, grid, encoding, tile, ids, out, name, grad_out, boundary,
                           region_grads, device, dtype, group, block_tiles,
                           lc_radius=lc_radius, lc_method=lc_method)


def _single(model, grid, encoding, tile, ids, out, name, grad_out, boundary, region_grads,
            device, dtype, block_tiles, lc_radius, lc_method) -> GridAnalysis:
    if block_tiles is not None and len(block_tiles) != 1:
        raise ValueError(f"block_tiles: expected one entry per rank (1 here), got {block_tiles}")
    ids_path = ids_file_path(out, name, grid.describe()) if ids == "file" else None
    result = analyze_stream(model, grid, encoding=encoding, tile=tile, ids=ids,
                            ids_path=ids_path, grad_out=grad_out, boundary=boundary,
                            region_grads=region_grads, lc_radius=lc_radius,
                            lc_method=lc_method, device=device, dtype=dtype)
    if out is not None:
        write_outputs(result, out, name, device=device, processes=1)
    return result
