"""The ranks' distinct-pattern tables numbered as one, hash-partitioned over the ranks.

Rank r's table lists its distinct patterns in increasing order of their first point index, and
rank r's points all come before rank r+1's; so the tables concatenated in rank order list every
pattern's global first appearance before any repeat, and ``region_ids`` of that concatenation
numbers the regions by first appearance along the whole grid. ``combine_tables`` computes
exactly that numbering without bringing the tables together: every pattern has an owner rank (a
64-bit hash of the pattern mod P), which receives every rank's row of that pattern, finds the
first one (its global first appearance) and sums the counts; the ranks number their
first-appearance rows in rank order, the owners send every row the id of its pattern and rank 0
the region sizes, in chunks. Memory per rank: its own table, the rows it owns (about 1/P of all
the tables' rows), a few int64 per row and O(P) scalars; rank 0 additionally the region sizes
(the output, 8 bytes per region) and one chunk.

``TableCombine`` is one rank's side of it, one method per step; every step computed on a rank
alone runs guarded (``rank_failures``: if it fails on one rank, every rank raises), and each
buffer is dropped as soon as no later step needs it.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

from .. import ops
from .exchange import comm_device, exchange, group_rank_to_global, offsets
from .pattern_table import row_keys
from .rank_failures import guarded

Tensor = torch.Tensor

TABLE_CHUNK = 1 << 20   # (global id, size) pairs per message to rank 0
OWNER_CHUNK = 1 << 16   # rows hashed at a time on the CPU: cache-sized (5x faster than all)


def owners(patterns: Tensor, world: int) -> Tensor:
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
    ``sizes`` and one chunk. Collective buffers live on ``comm_device(group)``.
    """
    return TableCombine(patterns, counts, group).run()


class TableCombine:
    """One rank's side of ``combine_tables``: ``run()`` takes the steps in order.

    Naming: a rank sends its rows to their *owners* and is their *source*; the owner keeps what
    it receives in (source rank, table row) order. Attributes hold what later steps need and are
    set to None when the last step that needs them is done."""

    def __init__(self, patterns: Tensor, counts: Tensor, group=None):
        self.group = group
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.dev = comm_device(group)
        self.words, self.n = self._agreed_shapes(patterns, counts)
        self.patterns, self.counts = patterns, counts

    def run(self) -> tuple[Tensor, Optional[Tensor]]:
        self.plan()
        self.send_rows_to_owners()
        self.return_canonical_flags()
        self.number_canonical_rows()
        self.send_ids_to_owners()
        self.return_ids()
        return self.send_sizes_to_root()

    # -- the steps ---------------------------------------------------------------------------
    def _agreed_shapes(self, patterns: Tensor, counts: Tensor) -> tuple[int, int]:
        """Every rank's table shapes, checked on every rank alike (so all raise or none):
        ``(words, rows of this rank's table)``."""
        meta = torch.tensor([patterns.dim(), patterns.shape[-1] if patterns.dim() else 0,
                             patterns.shape[0] if patterns.dim() else 0, counts.dim(),
                             counts.numel()], dtype=torch.int64, device=self.dev)
        metas = [torch.zeros_like(meta) for _ in range(self.world)]
        dist.all_gather(metas, meta, group=self.group)
        metas = [[int(v) for v in m] for m in metas]
        for r, (pdim, _, rows, cdim, cn) in enumerate(metas):
            if pdim != 2 or cdim != 1 or cn != rows:
                raise ValueError(f"combine_tables: rank {r} has patterns of {pdim} dims and {cn} "
                                 f"counts ({cdim} dims); expected patterns [n, words], counts [n]")
        if len({m[1] for m in metas}) > 1:
            raise ValueError("combine_tables: the tables differ in width, words per rank "
                             f"{[m[1] for m in metas]}")
        return metas[0][1], metas[self.rank][2]

    def plan(self) -> None:
        """Each row's owner; the rows grouped by owner (table order within a group); how many
        rows go to each owner and come from each source."""
        self.pat, self.cnt, self.order, send = self._local(self._group_by_owner)
        recv = torch.zeros(self.world, dtype=torch.int64, device=self.dev)
        dist.all_to_all_single(recv, send, group=self.group)
        self.to_owner, self.from_source = send.tolist(), recv.tolist()
        self.send_off, self.recv_off = offsets(self.to_owner), offsets(self.from_source)
        self.received, self.top = sum(self.from_source), max(self.to_owner)
        self.patterns = self.counts = None

    def send_rows_to_owners(self) -> None:
        """Round 1: every row (pattern, count) to its owner, arriving in (source, table row)
        order; the owner finds each pattern's canonical row (its first occurrence there) and
        sums its counts."""
        (self.s_pat, self.s_cnt), (self.got_pat, self.got_cnt) = self._local(self._row_buffers)
        exchange(self._rows_for_owner, self.to_owner, (self.got_pat, self.got_cnt),
                 self.from_source, self.group)
        self.pat = self.cnt = self.s_pat = self.s_cnt = None
        self.local, self.first, self.summed, self.canonical, self.flags = \
            self._local(self._canonical_rows)
        self.got_pat = self.got_cnt = None

    def return_canonical_flags(self) -> None:
        """Round 2: every row learns from its owner whether it is canonical."""
        exchange(self._by_source(self.canonical), self.from_source, (self.flags,),
                 self.to_owner, self.group)
        self.canonical = None

    def number_canonical_rows(self) -> None:
        """Each rank numbers its canonical rows in table order, after those of the lower ranks
        (an exclusive scan of the per-rank counts, from one all_gather)."""
        self.is_canon, mine = self._local(self._count_canonical)
        self.flags = None
        every = [torch.zeros_like(mine) for _ in range(self.world)]
        dist.all_gather(every, mine, group=self.group)
        self.canon_per_rank = [int(e[0]) for e in every]
        self.owned_per_rank = [int(e[1]) for e in every]
        self.total = sum(self.canon_per_rank)
        if sum(self.owned_per_rank) != self.total:   # every rank sees the same numbers
            raise RuntimeError(f"combine_tables: the owners hold {sum(self.owned_per_rank)} "
                               f"patterns but the ranks found {self.total} canonical rows")
        self.gid, self.s_gid, self.got_gid = self._local(self._number)
        self.is_canon = None

    def send_ids_to_owners(self) -> None:
        """Round 3: the canonical rows' ids to their owners."""
        exchange(self._ids_for_owner, self.to_owner, (self.got_gid,), self.from_source,
                 self.group)
        self.gid = self.s_gid = None

    def return_ids(self) -> None:
        """Round 4: every row gets its pattern's id back from the owner."""
        self.pattern_gid, row_gid, self.back = self._local(self._resolve)
        self.got_gid = self.first = self.local = None
        exchange(self._by_source(row_gid), self.from_source, (self.back,), self.to_owner,
                 self.group)

    def send_sizes_to_root(self) -> tuple[Tensor, Optional[Tensor]]:
        """Round 5: (global id, summed count) of the owned patterns to rank 0, chunk by chunk;
        the result ``(mapping, sizes)``."""
        chunk = max(1, min(TABLE_CHUNK, max(self.owned_per_rank)))
        mapping, sizes, buf = self._local(lambda: self._finish_rows(chunk))
        self.back = self.order = None
        if self.rank == 0:
            for r in range(1, self.world):
                src = group_rank_to_global(self.group, r)
                for s in range(0, self.owned_per_rank[r], chunk):
                    k = min(chunk, self.owned_per_rank[r] - s)
                    dist.recv(buf[:k], src=src, group=self.group)
                    part = buf[:k].cpu()
                    sizes[part[:, 0]] = part[:, 1]
        else:
            root = group_rank_to_global(self.group, 0)
            for s in range(0, self.owned_per_rank[self.rank], chunk):
                k = min(chunk, self.owned_per_rank[self.rank] - s)
                buf[:k, 0] = self.pattern_gid[s:s + k]
                buf[:k, 1] = self.summed[s:s + k]
                dist.send(buf[:k], dst=root, group=self.group)
        return mapping, sizes

    # -- what each rank computes alone -------------------------------------------------------
    def _local(self, fn):
        """A step computed on each rank alone: if it fails on one rank, every rank raises."""
        return guarded(fn, self.group)

    def _group_by_owner(self):
        if self.patterns.dtype != torch.int64 or self.counts.dtype != torch.int64:
            raise TypeError("combine_tables: expected int64 patterns and counts, got "
                            f"{self.patterns.dtype} and {self.counts.dtype}")
        pat, cnt = self.patterns.to(self.dev), self.counts.to(self.dev)
        owner = owners(pat, self.world)
        return (pat, cnt, torch.argsort(owner, stable=True),
                torch.bincount(owner, minlength=self.world))

    def _rows_to(self, d: int) -> Tensor:
        """This rank's table rows owned by rank d, in table order."""
        return self.order[self.send_off[d]:self.send_off[d + 1]]

    def _by_source(self, *values: Tensor):
        """Owner side: the blocks of ``values`` of each source, as received."""
        return lambda s: tuple(v[self.recv_off[s]:self.recv_off[s + 1]] for v in values)

    def _row_buffers(self):
        words, dev = self.words, self.dev
        scratch = (torch.empty((self.top, words), dtype=torch.int64, device=dev),
                   torch.empty(self.top, dtype=torch.int64, device=dev))
        got = (torch.empty((self.received, words), dtype=torch.int64, device=dev),
               torch.empty(self.received, dtype=torch.int64, device=dev))
        return scratch, got

    def _rows_for_owner(self, d: int):
        idx = self._rows_to(d)
        return (torch.index_select(self.pat, 0, idx, out=self.s_pat[:idx.numel()]),
                torch.index_select(self.cnt, 0, idx, out=self.s_cnt[:idx.numel()]))

    def _canonical_rows(self):
        m, dev = self.received, self.dev
        local, _ = ops.region_ids(self.got_pat)
        k = int(local.max()) + 1 if local.numel() else 0
        first = torch.full((k,), m, dtype=torch.int64, device=dev).scatter_reduce_(
            0, local, torch.arange(m, dtype=torch.int64, device=dev), reduce="amin")
        summed = torch.zeros(k, dtype=torch.int64, device=dev).index_add_(0, local, self.got_cnt)
        canonical = torch.zeros(m, dtype=torch.uint8, device=dev)
        canonical[first] = 1
        return local, first, summed, canonical, torch.empty(self.n, dtype=torch.uint8, device=dev)

    def _count_canonical(self):
        is_canon = torch.zeros(self.n, dtype=torch.bool, device=self.dev)
        is_canon[self.order] = self.flags.bool()
        return is_canon, torch.tensor([int(is_canon.sum()), int(self.first.numel())],
                                      dtype=torch.int64, device=self.dev)

    def _number(self):
        start = sum(self.canon_per_rank[:self.rank])
        gid = torch.full((self.n,), -1, dtype=torch.int64, device=self.dev)
        gid[self.is_canon] = torch.arange(start, start + self.canon_per_rank[self.rank],
                                          dtype=torch.int64, device=self.dev)
        return (gid, torch.empty(self.top, dtype=torch.int64, device=self.dev),
                torch.empty(self.received, dtype=torch.int64, device=self.dev))

    def _ids_for_owner(self, d: int):
        idx = self._rows_to(d)
        return (torch.index_select(self.gid, 0, idx, out=self.s_gid[:idx.numel()]),)

    def _resolve(self):
        pattern_gid = self.got_gid[self.first]
        return (pattern_gid, pattern_gid[self.local],
                torch.empty(self.n, dtype=torch.int64, device=self.dev))

    def _finish_rows(self, chunk: int):
        mapping = torch.empty(self.n, dtype=torch.int64, device=self.dev)
        mapping[self.order] = self.back
        buf = torch.empty((chunk, 2), dtype=torch.int64, device=self.dev)   # (id, size) rows
        if self.rank != 0:
            return mapping.cpu(), None, buf
        sizes = torch.zeros(self.total, dtype=torch.int64)
        sizes[self.pattern_gid.cpu()] = self.summed.cpu()
        return mapping.cpu(), sizes, buf
