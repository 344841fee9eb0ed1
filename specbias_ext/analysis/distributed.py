"""The grid analysis sharded over the processes of a torch.distributed group.

Each rank scans a contiguous block of whole tiles of the grid (``stream``), keeping its own
table of distinct patterns in first-appearance order. The tables are then combined so that the
result is bit-identical to the single-process run:

- rank r's table lists its distinct patterns in increasing order of their first point index,
  and rank r's points all come before rank r+1's; so the tables concatenated in rank order list
  every pattern's global first appearance before any repeat, and ``region_ids`` of that
  concatenation numbers the regions by first appearance along the whole grid. ``combine_tables``
  computes exactly that numbering without bringing the tables together: every pattern has an
  owner rank (a 64-bit hash of the pattern mod P), which receives every rank's row of that
  pattern, finds the first one (its global first appearance) and sums the counts; the ranks
  number their first-appearance rows in rank order, the owners send every row the id of its
  pattern and rank 0 the region sizes, in chunks. Memory per rank: its own table, the rows it
  owns (about 1/P of all the tables' rows), a few int64 per row and O(P) scalars; rank 0
  additionally the region sizes (the output, 8 bytes per region) and one chunk;
- region sizes, neighbour-distance histograms and neuron on-counts are int64 sums (exact);
  each rank recomputes the tiles just before its block to get the neighbours across its border;
- floating-point statistics are kept per tile, gathered in tile order and summed with
  ``math.fsum`` exactly as in one process;
- ids are relabelled by each rank and streamed to rank 0 in chunks, which writes them (and the
  summary) atomically.

Failures: every rank runs its scan inside a guard and then all ranks exchange their status, so
a rank that fails makes every rank raise (itself with its own error, the others naming it)
instead of leaving them blocked in a collective; collectives are bounded by the group's timeout
(``init_process_group(timeout=...)``, which ``launch`` sets).
"""
from __future__ import annotations

import datetime
import os
import traceback
from typing import Callable, Optional, Sequence, Union

import torch
import torch.distributed as dist

from .. import ops
from ..runs.files import atomic_save_npz, atomic_write_json
from .exchange import comm_device as _comm_device
from .exchange import exchange as _exchange
from .exchange import exchange_rows
from .exchange import group_rank_to_global as _group_rank_to_global
from .exchange import offsets as _offsets
from .ids_file import NpyIdsWriter, RawIdsFile
from .region_grads import RegionRows, by_region, combine_rows, id_chunk
from .stream import DEFAULT_TILE, GridAnalysis, _Scanner, finish, row_keys

Tensor = torch.Tensor

ID_CHUNK = 1 << 20
TABLE_CHUNK = 1 << 20   # (global id, size) pairs per message to rank 0


class RankFailed(RuntimeError):
    """Another rank of the group failed; the message carries its error."""


def _sync_status(error: Optional[BaseException], group) -> None:
    """All ranks learn whether any failed; every rank raises if one did."""
    mine = None if error is None else "".join(
        traceback.format_exception_only(type(error), error)).strip()
    statuses = [None] * dist.get_world_size(group)
    dist.all_gather_object(statuses, mine, group=group)
    if error is not None:
        raise error
    failed = [(r, s) for r, s in enumerate(statuses) if s is not None]
    if failed:
        rank, msg = failed[0]
        raise RankFailed(f"rank {rank} of the grid analysis failed: {msg}")


def _guarded(fn, group):
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - every rank must reach the status exchange
        _sync_status(e, group)
        raise
    _sync_status(None, group)
    return out


def _all_lengths(n: int, group) -> list[int]:
    dev = _comm_device(group)
    sizes = [torch.zeros(1, dtype=torch.int64, device=dev)
             for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.int64, device=dev), group=group)
    return [int(s) for s in sizes]


def _gather_rows(rows: Tensor, group, dst_global: int, is_dst: bool) -> Optional[list[Tensor]]:
    """Gather a [n_r, ...] tensor of every rank to dst (padded to the largest n_r); CPU out."""
    dev = _comm_device(group)
    sizes = _all_lengths(int(rows.shape[0]), group)
    top = max(sizes)
    padded = torch.zeros((top,) + tuple(rows.shape[1:]), dtype=rows.dtype, device=dev)
    padded[:rows.shape[0]] = rows.to(dev)
    bufs = [torch.zeros_like(padded) for _ in sizes] if is_dst else None
    dist.gather(padded, bufs, dst=dst_global, group=group)
    if not is_dst:
        return None
    return [b[:s].cpu() for b, s in zip(bufs, sizes)]


OWNER_CHUNK = 1 << 16   # rows hashed at a time on the CPU: cache-sized (5x faster than all)


def _owners(patterns: Tensor, world: int) -> Tensor:
    """The rank that owns each pattern row: its ``row_keys`` (a 64-bit mix), non-negative mod P."""
    n = patterns.shape[0]
    step = OWNER_CHUNK if patterns.device.type == "cpu" else max(n, 1)
    owner = torch.empty(n, dtype=torch.int64, device=patterns.device)
    for s in range(0, n, step):
        owner[s:s + step] = torch.remainder(row_keys(patterns[s:s + step]), world)
    return owner


def combine_tables(patterns: Tensor, counts: Tensor, group=None) -> tuple[Tensor, Optional[Tensor]]:
    """Number the distinct-pattern tables of all ranks by first appearance, hash-partitioned.

    Every rank of ``group`` calls this with its table: ``patterns`` int64 [n_r, words] (distinct
    rows in first-appearance order within its block; blocks follow each other in rank order) and
    ``counts`` int64 [n_r] (points per row). Returns ``(mapping, sizes)``: ``mapping`` int64
    [n_r] (CPU), the global region id of each row of this rank's table, and on rank 0 ``sizes``
    int64 [R] (CPU), the summed counts per global id (None on the other ranks). The global ids
    are those of ``ops.region_ids`` on the tables concatenated in rank order, i.e. the patterns
    numbered by their first appearance along the whole grid.

    Method: the owner of a pattern is ``row_keys(pattern) mod P``. Each rank sends its rows and
    counts to their owners, keeping its table order, so an owner receives them in (source rank,
    table row) order and the first occurrence of a pattern there (``region_ids`` on what it
    received) is the pattern's first appearance in the concatenation: its canonical row. The
    owner sums the counts and tells every row whether it is canonical; each rank numbers its
    canonical rows in table order after those of the lower ranks (an exclusive scan of per-rank
    counts); the owners learn the ids of their canonical rows and send every row the id of its
    pattern; finally each owner sends rank 0 (global id, summed count) pairs in chunks of
    ``TABLE_CHUNK`` rows. Hash collisions only put two patterns on one owner (rows are compared
    whole there). Memory per rank: its table, the rows it owns (about 1/P of all rows), one
    destination's rows while sending, a few int64 per row and O(P) scalars; rank 0 also
    ``sizes`` and one chunk. Collective buffers live on ``_comm_device(group)``.
    """
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    dev = _comm_device(group)
    step = lambda fn: _guarded(fn, group)  # noqa: E731 - every local step: all fail or none

    meta = torch.tensor([patterns.dim(), patterns.shape[-1] if patterns.dim() else 0,
                         patterns.shape[0] if patterns.dim() else 0, counts.dim(),
                         counts.numel()], dtype=torch.int64, device=dev)
    metas = [torch.zeros_like(meta) for _ in range(world)]
    dist.all_gather(metas, meta, group=group)
    metas = [[int(v) for v in m] for m in metas]
    for r, (pdim, _, rows, cdim, cn) in enumerate(metas):   # all ranks see the same: no hang
        if pdim != 2 or cdim != 1 or cn != rows:
            raise ValueError(f"combine_tables: rank {r} has patterns of {pdim} dims and {cn} "
                             f"counts ({cdim} dims); expected patterns [n, words], counts [n]")
    if len({m[1] for m in metas}) > 1:
        raise ValueError("combine_tables: the tables differ in width, words per rank "
                         f"{[m[1] for m in metas]}")
    words = metas[0][1]
    n = metas[rank][2]

    def plan():
        if patterns.dtype != torch.int64 or counts.dtype != torch.int64:
            raise TypeError("combine_tables: expected int64 patterns and counts, got "
                            f"{patterns.dtype} and {counts.dtype}")
        pat, cnt = patterns.to(dev), counts.to(dev)
        owner = _owners(pat, world)
        # rows grouped by owner, in table order within each group
        return pat, cnt, torch.argsort(owner, stable=True), torch.bincount(owner, minlength=world)
    pat, cnt, order, send = step(plan)
    recv = torch.zeros(world, dtype=torch.int64, device=dev)
    dist.all_to_all_single(recv, send, group=group)
    to_owner, from_owner = send.tolist(), recv.tolist()   # rows per owner / per source
    send_off, recv_off = _offsets(to_owner), _offsets(from_owner)
    m, top = sum(from_owner), max(to_owner)

    def rows_to(d):
        return order[send_off[d]:send_off[d + 1]]

    def to_source(*values):   # owner side: the blocks of each source, as received
        return lambda s: tuple(v[recv_off[s]:recv_off[s + 1]] for v in values)

    # 1. Every row (pattern, count) to its owner; they arrive in (source, table row) order.
    def alloc_rows():
        scratch = (torch.empty((top, words), dtype=torch.int64, device=dev),
                   torch.empty(top, dtype=torch.int64, device=dev))
        got = (torch.empty((m, words), dtype=torch.int64, device=dev),
               torch.empty(m, dtype=torch.int64, device=dev))
        return scratch, got
    (s_pat, s_cnt), (got_pat, got_cnt) = step(alloc_rows)

    def rows_for(d):
        idx = rows_to(d)
        return (torch.index_select(pat, 0, idx, out=s_pat[:idx.numel()]),
                torch.index_select(cnt, 0, idx, out=s_cnt[:idx.numel()]))
    _exchange(rows_for, to_owner, (got_pat, got_cnt), from_owner, group)
    del pat, cnt, s_pat, s_cnt

    # 2. The owner: the first occurrence of each pattern is its canonical row; sum the counts.
    def own():
        local, _ = ops.region_ids(got_pat)
        k = int(local.max()) + 1 if local.numel() else 0
        first = torch.full((k,), m, dtype=torch.int64, device=dev).scatter_reduce_(
            0, local, torch.arange(m, dtype=torch.int64, device=dev), reduce="amin")
        summed = torch.zeros(k, dtype=torch.int64, device=dev).index_add_(0, local, got_cnt)
        canonical = torch.zeros(m, dtype=torch.uint8, device=dev)
        canonical[first] = 1
        return local, first, summed, canonical, torch.empty(n, dtype=torch.uint8, device=dev)
    local, first, summed, canonical, flags = step(own)
    del got_pat, got_cnt
    _exchange(to_source(canonical), from_owner, (flags,), to_owner, group)
    del canonical

    # 3. Each rank numbers its canonical rows in table order, after those of the lower ranks.
    def count_canonical():
        is_canon = torch.zeros(n, dtype=torch.bool, device=dev)
        is_canon[order] = flags.bool()
        return is_canon, torch.tensor([int(is_canon.sum()), int(first.numel())],
                                      dtype=torch.int64, device=dev)
    is_canon, mine = step(count_canonical)
    del flags
    every = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(every, mine, group=group)
    canon_per_rank = [int(e[0]) for e in every]
    owned_per_rank = [int(e[1]) for e in every]
    total = sum(canon_per_rank)
    if sum(owned_per_rank) != total:   # every rank sees the same numbers
        raise RuntimeError(f"combine_tables: the owners hold {sum(owned_per_rank)} patterns but "
                           f"the ranks found {total} canonical rows")

    def number():
        start = sum(canon_per_rank[:rank])
        gid = torch.full((n,), -1, dtype=torch.int64, device=dev)
        gid[is_canon] = torch.arange(start, start + canon_per_rank[rank], dtype=torch.int64,
                                     device=dev)
        return (gid, torch.empty(top, dtype=torch.int64, device=dev),
                torch.empty(m, dtype=torch.int64, device=dev))
    gid, s_gid, got_gid = step(number)
    del is_canon

    # 4. The canonical rows' ids to their owners; every row gets its pattern's id back.
    def gids_for(d):
        idx = rows_to(d)
        return (torch.index_select(gid, 0, idx, out=s_gid[:idx.numel()]),)
    _exchange(gids_for, to_owner, (got_gid,), from_owner, group)
    del gid, s_gid

    def resolve():
        pattern_gid = got_gid[first]
        return pattern_gid, pattern_gid[local], torch.empty(n, dtype=torch.int64, device=dev)
    pattern_gid, row_gid, back = step(resolve)
    del got_gid, first, local
    _exchange(to_source(row_gid), from_owner, (back,), to_owner, group)
    del row_gid

    # 5. (global id, summed count) of the owned patterns to rank 0, chunk by chunk.
    chunk = max(1, min(TABLE_CHUNK, max(owned_per_rank)))

    def finish_rows():
        mapping = torch.empty(n, dtype=torch.int64, device=dev)
        mapping[order] = back
        buf = torch.empty((chunk, 2), dtype=torch.int64, device=dev)   # (id, size) rows
        if rank != 0:
            return mapping.cpu(), None, buf
        sizes = torch.zeros(total, dtype=torch.int64)
        sizes[pattern_gid.cpu()] = summed.cpu()
        return mapping.cpu(), sizes, buf
    mapping, sizes, buf = step(finish_rows)
    del back, order
    if rank == 0:
        for r in range(1, world):
            src = _group_rank_to_global(group, r)
            for s in range(0, owned_per_rank[r], chunk):
                k = min(chunk, owned_per_rank[r] - s)
                dist.recv(buf[:k], src=src, group=group)
                part = buf[:k].cpu()
                sizes[part[:, 0]] = part[:, 1]
    else:
        root = _group_rank_to_global(group, 0)
        for s in range(0, owned_per_rank[rank], chunk):
            k = min(chunk, owned_per_rank[rank] - s)
            buf[:k, 0] = pattern_gid[s:s + k]
            buf[:k, 1] = summed[s:s + k]
            dist.send(buf[:k], dst=root, group=group)
    return mapping, sizes


def _output_names(grid: dict) -> str:
    return "regions_" + "x".join(str(s) for s in grid["shape"])


def output_arrays(result: GridAnalysis) -> dict:
    """The per-region and per-neuron arrays of a result, by the names of the ``.npz`` file."""
    arrays = {"region_counts": result.region_counts, "neighbor_hist": result.neighbor_hist,
              "bit_counts": result.bit_counts}
    if result.region_grads is not None:
        arrays.update(norm_of_sum=result.region_grads.norm_of_sum,
                      sum_of_norms=result.region_grads.sum_of_norms,
                      coherence=result.region_grads.coherence)
    return arrays


def write_outputs(result: GridAnalysis, out: str, name: Optional[str] = None) -> dict:
    """Atomically write ``<name>.json`` (summary) and ``<name>.npz`` (region sizes, neighbour
    histograms, neuron on-counts, and with region gradients ``norm_of_sum``, ``sum_of_norms``,
    ``coherence``) into ``out``; return the paths."""
    name = name or _output_names(result.grid)
    summary = result.summary()
    if result.ids_path is not None:
        summary["ids_file"] = os.path.basename(result.ids_path)
    json_path = os.path.join(out, f"{name}.json")
    npz_path = os.path.join(out, f"{name}.npz")
    atomic_save_npz(npz_path, **output_arrays(result))
    atomic_write_json(json_path, summary)
    return {"summary": json_path, "arrays": npz_path}


def analyze_grid(model, grid, *, encoding=None, tile: int = DEFAULT_TILE, ids: str = "memory",
                 out: Optional[str] = None, name: Optional[str] = None,
                 grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                 boundary: bool = False,
                 region_grads: bool = False, device="cpu", dtype=torch.float32, group=None,
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
    ``regions_<shape>``). ``device`` is the device of this rank (e.g. ``cuda:<local_rank>``).
    ``grad_out``: a function of a tile's coordinates returning dloss/df ``[T, out]``, or
    "output" (ones: the gradient of the output itself); it adds per-example gradient-norm
    statistics, and ``region_grads=True`` adds every region's ``||sum_i g_i||``,
    ``sum_i ||g_i||`` and coherence, exact across tiles and ranks.
    Collective traffic: the distinct-pattern tables (each row sent once to the rank that owns
    its pattern, see ``combine_tables``), the region sizes (to rank 0 in chunks), per-tile
    statistics, with region gradients one row per region and tile (to the rank owning the
    region's id chunk), and, when ids are wanted, the ids (streamed to rank 0 in chunks).
    """
    if ids not in ("memory", "file", "none"):
        raise ValueError(f"ids: expected 'memory', 'file' or 'none', got {ids!r}")
    if ids == "file" and out is None:
        raise ValueError("out: ids='file' writes <out>/<name>_ids.npy; give an output folder")
    if out is not None and os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out: {out!r} exists and is not a folder")
    distributed = dist.is_available() and dist.is_initialized() and \
        dist.get_world_size(group) > 1
    if not distributed:
        return _single(model, grid, encoding, tile, ids, out, name, grad_out, boundary,
                       region_grads, device, dtype, block_tiles)
    return _sharded(model, grid, encoding, tile, ids, out, name, grad_out, boundary,
                    region_grads, device, dtype, group, block_tiles)


def _ids_path(out, name, grid_desc) -> str:
    return os.path.join(out, f"{name or _output_names(grid_desc)}_ids.npy")


def _single(model, grid, encoding, tile, ids, out, name, grad_out, boundary, region_grads,
            device, dtype, block_tiles) -> GridAnalysis:
    from .stream import analyze_stream

    if block_tiles is not None and len(block_tiles) != 1:
        raise ValueError(f"block_tiles: expected one entry per rank (1 here), got {block_tiles}")
    ids_path = _ids_path(out, name, grid.describe()) if ids == "file" else None
    result = analyze_stream(model, grid, encoding=encoding, tile=tile, ids=ids,
                            ids_path=ids_path, grad_out=grad_out, boundary=boundary,
                            region_grads=region_grads, device=device, dtype=dtype)
    if out is not None:
        write_outputs(result, out, name)
    return result


def _sharded(model, grid, encoding, tile, ids, out, name, grad_out, boundary, region_grads,
             device, dtype, group, block_tiles) -> GridAnalysis:
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    root = _group_rank_to_global(group, 0)
    is_root = rank == 0

    state = {}

    def scan():
        scanner = _Scanner(model, grid, encoding=encoding, tile=tile, grad_out=grad_out,
                           boundary=boundary, region_grads=region_grads, device=device,
                           dtype=dtype)
        lo, hi = scanner.block_tiles(world, block_tiles)[rank]
        scratch = RawIdsFile(out) if ids == "file" else None
        state["scanner"], state["scratch"] = scanner, scratch
        state["block"] = scanner.scan(lo, hi, sink=scratch, keep_ids=ids == "memory")

    try:
        _guarded(scan, group)
        scanner, block, scratch = state["scanner"], state["block"], state["scratch"]

        mapping, sizes = combine_tables(block.table_patterns, block.table_counts, group)
        region_arrays = None
        if block.region_rows is not None:   # needs the table's patterns of multi-tile regions
            region_arrays = _sharded_region_grads(block, mapping, scanner.net, group, root,
                                                  is_root, int(sizes.numel()) if is_root else 0)
            block.region_rows = None
        block.table_patterns = block.table_counts = None   # the table is not needed any more

        dev = _comm_device(group)
        hist = block.neighbor_hist.to(dev, copy=True)
        on = block.bit_counts.to(dev, copy=True)
        dist.reduce(hist, dst=root, op=dist.ReduceOp.SUM, group=group)
        dist.reduce(on, dst=root, op=dist.ReduceOp.SUM, group=group)
        hist, on = hist.cpu(), on.cpu()
        grad_tiles = boundary_tiles = None
        if block.grad_tiles is not None:
            parts = _gather_rows(block.grad_tiles, group, root, is_root)
            grad_tiles = torch.cat(parts) if is_root else None
        if block.boundary_tiles is not None:
            parts = _gather_rows(block.boundary_tiles, group, root, is_root)
            boundary_tiles = torch.cat(parts) if is_root else None

        all_ids = ids_path = None
        if ids != "none":
            all_ids, ids_path = _collect_ids(block, scratch, mapping, scanner, ids, out, name,
                                             group, root, is_root)
        def conclude():   # rank 0 only, so inside the guard: if it fails, every rank fails
            if not is_root:
                return None, None
            res = finish(scanner, sizes, hist, on, grad_tiles, boundary_tiles, ids=all_ids,
                         ids_path=ids_path, region_arrays=region_arrays)
            if out:
                write_outputs(res, out, name)
            return res, res.summary()
        result, summary = _guarded(conclude, group)
        summary = [summary]
        dist.broadcast_object_list(summary, src=root, group=group)
        if is_root:
            return result
        return _from_summary(scanner, summary[0])
    finally:
        if state.get("scratch") is not None:
            state["scratch"].close()


def _sharded_region_grads(block, mapping, net, group, root, is_root, num_regions):
    """Region gradient norms across ranks: every (region, tile) row goes to the rank owning the
    region's chunk of global ids, which combines them exactly as one process would
    (``region_grads.combine_rows``); rank 0 collects the per-region results."""
    rows = block.region_rows
    gid = mapping[rows.region]
    patterns = block.table_patterns.cpu()[rows.region]
    dest = (gid // id_chunk(net)) % dist.get_world_size(group)
    got = exchange_rows([gid, rows.tile, rows.norm_of_sum, rows.sum_of_norms, rows.stats,
                         patterns], dest, group)
    regions, nos, son = _guarded(lambda: combine_rows(RegionRows(*got[:5]), got[5], net), group)
    ids = _gather_rows(regions.unsqueeze(1), group, root, is_root)
    vals = _gather_rows(torch.stack([nos, son], dim=1), group, root, is_root)
    if not is_root:
        return None
    return by_region([(i[:, 0], v[:, 0], v[:, 1]) for i, v in zip(ids, vals)], num_regions)


def _collect_ids(block, scratch, mapping, scanner, ids, out, name, group, root, is_root):
    """Relabel this rank's ids to the global numbering and stream them to rank 0, in rank
    order, chunk by chunk (rank 0 writes them to the ids file or keeps them)."""
    world = dist.get_world_size(group)
    dev = _comm_device(group)
    lengths = _all_lengths(block.stop - block.start, group)
    writer = parts = None
    ids_path = None
    if is_root:
        if ids == "file":
            ids_path = _ids_path(out, name, scanner.grid.describe())
            writer = NpyIdsWriter(ids_path, scanner.shape)
        else:
            parts = []

    def local_chunks():
        if block.ids is not None:
            for s in range(0, block.ids.numel(), ID_CHUNK):
                yield block.ids[s:s + ID_CHUNK]
        elif scratch is not None:
            yield from scratch.chunks(ID_CHUNK)

    def take(chunk):
        if writer is not None:
            writer.write(chunk)
        else:
            parts.append(chunk)

    def run():
        if is_root:
            for c in local_chunks():
                take(mapping[c])
            for r in range(1, world):
                left = int(lengths[r])
                src = _group_rank_to_global(group, r)
                while left > 0:
                    k = min(ID_CHUNK, left)
                    buf = torch.empty(k, dtype=torch.int64, device=dev)
                    dist.recv(buf, src=src, group=group)
                    take(buf.cpu())
                    left -= k
            if writer is not None:
                writer.commit()
        else:
            for c in local_chunks():
                dist.send(mapping[c].to(dev).contiguous(), dst=root, group=group)

    try:
        run()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    all_ids = torch.cat(parts) if parts is not None else None
    return all_ids, ids_path


def _from_summary(scanner, summary: dict) -> GridAnalysis:
    """The non-root ranks' result: the summary only (sizes and ids stay on rank 0)."""
    res = GridAnalysis(grid=summary["grid"], num_points=summary["points"],
                       region_counts=torch.zeros(0, dtype=torch.int64),
                       neighbor_hist=torch.zeros(0, dtype=torch.int64),
                       bit_counts=torch.zeros(0, dtype=torch.int64), layer_bits=[],
                       tile=scanner.tile)
    res.extra = {"summary": summary}
    return res


def launch(timeout_s: float = 1800.0, backend: Optional[str] = None) -> bool:
    """Initialise the default process group from torchrun's environment (RANK, WORLD_SIZE,
    MASTER_ADDR, ...) with a collective timeout; return False when not launched by torchrun.
    gloo on CPU, nccl when CUDA is available (then this rank's GPU is cuda:LOCAL_RANK, the
    ``device`` to pass to ``analyze_grid``)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    if dist.is_initialized():
        return True
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend,
                            timeout=datetime.timedelta(seconds=float(timeout_s)))
    return True
