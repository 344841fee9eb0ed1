"""The grid analysis sharded over the processes of a torch.distributed group.

Each rank scans a contiguous block of whole tiles of the grid (``tile_scan``), keeping its own
table of distinct patterns in first-appearance order. The results are then combined so that
they are bit-identical to the single-process run:

- the tables are numbered as one, by first appearance along the whole grid, without bringing
  them together (``table_combine``); rank 0 gets the region sizes;
- neighbour-distance histograms and neuron on-counts are int64 sums (exact); each rank
  recomputes the tiles just before its block to get the neighbours across its border;
- the local complexity's histogram of totals and per-layer sums are int64 sums too; its
  per-point counts, when the ids are kept in memory, are gathered to rank 0 in rank order;
- floating-point statistics are kept per tile, gathered in tile order and summed with
  ``math.fsum`` exactly as in one process; region gradients go to the rank owning their chunk
  of global ids (``region_grads``);
- ids are relabelled by each rank and streamed to rank 0 in chunks, which writes them (and the
  summary) atomically; with the ids in a file, every point's local-complexity total is streamed
  to rank 0 the same way (no relabelling) and written to the file beside them.

Failures: every rank runs its scan inside a guard and then all ranks exchange their status, so
a rank that fails makes every rank raise (itself with its own error, the others naming it)
instead of leaving them blocked in a collective (``rank_failures``); collectives are bounded by
the group's timeout (``init_process_group(timeout=...)``, which ``launch`` sets).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

from .exchange import all_lengths, comm_device, exchange_rows, gather_rows, group_rank_to_global
from .ids_file import IDS_DTYPE, LC_TOTAL_DTYPE, RawTileFile, npy_files, torch_dtype
from .outputs import ids_file_path, lc_file_path, write_outputs
from .rank_failures import guarded
from .region_grads import RegionRows, by_region, combine_rows, id_chunk
from .result import GridAnalysis, assemble_result
from .table_combine import combine_tables
from .tile_scan import TileScanner

#: Values per message when per-point arrays (ids, local-complexity totals) go to rank 0.
SEND_CHUNK = 1 << 20


def analyze_sharded(model, grid, encoding, tile, ids, out, name, grad_out, boundary,
                    region_grads, device, dtype, group, block_tiles, *, lc_radius=None,
                    lc_method="sampled") -> GridAnalysis:
    """``analyze_grid`` on every rank of ``group`` (arguments checked there): rank 0 gets the
    full result, the other ranks its summary only."""
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    root = group_rank_to_global(group, 0)
    is_root = rank == 0

    state = {}

    def scan():
        scanner = TileScanner(model, grid, encoding=encoding, tile=tile, grad_out=grad_out,
                              boundary=boundary, region_grads=region_grads,
                              lc_radius=lc_radius, lc_method=lc_method, device=device,
                              dtype=dtype)
        lo, hi = scanner.block_tiles(world, block_tiles)[rank]
        state["scanner"] = scanner
        state["scratch"] = RawTileFile(out, IDS_DTYPE) if ids == "file" else None
        state["lc_scratch"] = RawTileFile(out, LC_TOTAL_DTYPE) \
            if ids == "file" and scanner.lc_radius is not None else None
        state["block"] = scanner.scan(lo, hi, sink=state["scratch"],
                                      keep_ids=ids == "memory", lc_sink=state["lc_scratch"])

    try:
        guarded(scan, group)
        scanner, block = state["scanner"], state["block"]
        scratch, lc_scratch = state["scratch"], state["lc_scratch"]

        mapping, sizes = combine_tables(block.table_patterns, block.table_counts, group)
        region_arrays = None
        if block.region_rows is not None:   # needs the table's patterns of multi-tile regions
            region_arrays = sharded_region_grads(block, mapping, scanner.net, group, root,
                                                 is_root, int(sizes.numel()) if is_root else 0)
            block.region_rows = None
        block.table_patterns = block.table_counts = None   # the table is not needed any more

        dev = comm_device(group)
        hist = block.neighbor_hist.to(dev, copy=True)
        on = block.bit_counts.to(dev, copy=True)
        dist.reduce(hist, dst=root, op=dist.ReduceOp.SUM, group=group)
        dist.reduce(on, dst=root, op=dist.ReduceOp.SUM, group=group)
        hist, on = hist.cpu(), on.cpu()
        grad_tiles = boundary_tiles = None
        if block.grad_tiles is not None:
            parts = gather_rows(block.grad_tiles, group, root, is_root)
            grad_tiles = torch.cat(parts) if is_root else None
        if block.boundary_tiles is not None:
            parts = gather_rows(block.boundary_tiles, group, root, is_root)
            boundary_tiles = torch.cat(parts) if is_root else None

        lc = None
        if block.lc_hist is not None:
            lc = sharded_lc(block, group, root, is_root)

        all_ids = ids_path = lc_path = None
        if ids == "file":
            ids_path = ids_file_path(out, name, scanner.grid.describe())
        if ids != "none":
            all_ids = collect_ids(block, scratch, mapping, ids_path, scanner.shape, group, root,
                                  is_root)
        if lc_scratch is not None:
            lc_path = lc_file_path(ids_path)
            write_on_root(lc_path, scanner.shape, LC_TOTAL_DTYPE,
                          lc_scratch.chunks(SEND_CHUNK), lc_scratch.count, group, root, is_root)

        def conclude():   # rank 0 only, so inside the guard: if it fails, every rank fails
            if not is_root:
                return None, None
            res = assemble_result(scanner, sizes, hist, on, grad_tiles, boundary_tiles,
                                  ids=all_ids, ids_path=ids_path, region_arrays=region_arrays,
                                  lc=lc, lc_path=lc_path)
            if out:
                write_outputs(res, out, name, device=scanner.device, processes=world)
            return res, res.summary()
        result, summary = guarded(conclude, group)
        summary = [summary]
        dist.broadcast_object_list(summary, src=root, group=group)
        if is_root:
            return result
        return summary_only(scanner, summary[0])
    finally:
        for key in ("scratch", "lc_scratch"):
            if state.get(key) is not None:
                state[key].close()


def sharded_region_grads(block, mapping, net, group, root, is_root, num_regions):
    """Region gradient norms across ranks: every (region, tile) row goes to the rank owning the
    region's chunk of global ids, which combines them exactly as one process would
    (``region_grads.combine_rows``); rank 0 collects the per-region results."""
    rows = block.region_rows
    gid = mapping[rows.region]
    patterns = block.table_patterns.cpu()[rows.region]
    dest = (gid // id_chunk(net)) % dist.get_world_size(group)
    got = exchange_rows([gid, rows.tile, rows.norm_of_sum, rows.sum_of_norms, rows.stats,
                         patterns], dest, group)
    regions, nos, son = guarded(lambda: combine_rows(RegionRows(*got[:5]), got[5], net), group)
    ids = gather_rows(regions.unsqueeze(1), group, root, is_root)
    vals = gather_rows(torch.stack([nos, son], dim=1), group, root, is_root)
    if not is_root:
        return None
    return by_region([(i[:, 0], v[:, 0], v[:, 1]) for i, v in zip(ids, vals)], num_regions)


def sharded_lc(block, group, root, is_root):
    """The local complexity across ranks: the histogram of totals and the per-layer sums
    (int64, exact) summed on rank 0, and the per-point counts, when kept, gathered there in
    rank order (the grid's order)."""
    dev = comm_device(group)
    hist = block.lc_hist.to(dev, copy=True)
    sums = block.lc_layer_sums.to(dev, copy=True)
    dist.reduce(hist, dst=root, op=dist.ReduceOp.SUM, group=group)
    dist.reduce(sums, dst=root, op=dist.ReduceOp.SUM, group=group)
    counts = None
    if block.lc_counts is not None:
        parts = gather_rows(block.lc_counts, group, root, is_root)
        counts = torch.cat(parts) if is_root else None
    return (hist.cpu(), sums.cpu(), counts) if is_root else None


def collect_ids(block, scratch, mapping, ids_path, shape, group, root, is_root
                ) -> Optional[torch.Tensor]:
    """Relabel this rank's ids (kept in ``block`` or in the ``scratch`` file) to the global
    numbering and stream them to rank 0 in rank order: written to the ids file ``ids_path``
    when given (nothing returned), else returned on rank 0."""
    def relabelled():
        if block.ids is not None:
            for s in range(0, block.ids.numel(), SEND_CHUNK):
                yield mapping[block.ids[s:s + SEND_CHUNK]]
        elif scratch is not None:
            for chunk in scratch.chunks(SEND_CHUNK):
                yield mapping[chunk]

    count = block.stop - block.start
    if ids_path is not None:
        write_on_root(ids_path, shape, IDS_DTYPE, relabelled(), count, group, root, is_root)
        return None
    parts = []
    stream_to_root(relabelled(), count, IDS_DTYPE, parts.append, group, root, is_root)
    return torch.cat(parts) if is_root else None


def write_on_root(path, shape, dtype, chunks, count, group, root, is_root) -> None:
    """Every rank's ``chunks`` (``count`` values on this rank) written by rank 0, in rank order,
    to the ``.npy`` file ``path`` of ``shape`` and ``dtype``, put in place atomically when
    complete (``ids_file.npy_files``)."""
    with npy_files((path, shape, dtype) if is_root else None) as (writer,):
        stream_to_root(chunks, count, dtype, None if writer is None else writer.write, group,
                       root, is_root)


def stream_to_root(chunks, count, dtype, take, group, root, is_root) -> None:
    """Rank 0 passes its own ``chunks`` and then every other rank's, in rank order, to ``take``
    chunk by chunk; the other ranks send theirs. ``count``: the values of this rank's chunks,
    which hold ``SEND_CHUNK`` values each but the last (the receiver sizes its buffers so);
    ``dtype``: their numpy dtype."""
    world = dist.get_world_size(group)
    dev = comm_device(group)
    lengths = all_lengths(count, group)
    if not is_root:
        for chunk in chunks:
            dist.send(chunk.to(dev, torch_dtype(dtype)).contiguous(), dst=root, group=group)
        return
    for chunk in chunks:
        take(chunk)
    for r in range(1, world):
        left = int(lengths[r])
        src = group_rank_to_global(group, r)
        while left > 0:
            k = min(SEND_CHUNK, left)
            buf = torch.empty(k, dtype=torch_dtype(dtype), device=dev)
            dist.recv(buf, src=src, group=group)
            take(buf.cpu())
            left -= k


def summary_only(scanner, summary: dict) -> GridAnalysis:
    """The non-root ranks' result: the summary only (sizes and ids stay on rank 0)."""
    res = GridAnalysis(grid=summary["grid"], num_points=summary["points"],
                       region_counts=torch.zeros(0, dtype=torch.int64),
                       neighbor_hist=torch.zeros(0, dtype=torch.int64),
                       bit_counts=torch.zeros(0, dtype=torch.int64), layer_bits=[],
                       tile=scanner.tile)
    res.extra = {"summary": summary}
    return res
