"""The table of distinct activation patterns a scan has met, numbered by first appearance, with
the 64-bit row keys it indexes them by (the sharded combine hashes rows with the same keys)."""
from __future__ import annotations

from typing import Optional

import torch

from .. import ops
# The row keys are measure's pattern keys (one definition: the region maps colour by them too);
# distinct rows collide with probability ~2^-64 per pair, and collisions are detected, never
# trusted.
from ..measure.regions import pattern_keys as row_keys

Tensor = torch.Tensor


class PatternTable:
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
