"""Worker of the distributed grid-analysis tests: one rank of a gloo group on 127.0.0.1."""
from __future__ import annotations

import contextlib
import datetime
import os
import traceback

import torch
import torch.distributed as dist


def fail_on_rank_1(coords):
    if dist.get_rank() == 1:
        raise ValueError("grad_out exploded on purpose")
    return coords[:, :1] * 0 + 1.0


@contextlib.contextmanager
def _module_constant(module, name, value):
    """``module.name`` set to ``value`` inside the block (None: left as it is)."""
    old = getattr(module, name)
    setattr(module, name, old if value is None else value)
    try:
        yield
    finally:
        setattr(module, name, old)


def chunk_bytes(size):
    """Region-gradient chunks of ``size`` bytes (small: the chunks spread over the ranks)."""
    from specbias_ext.analysis import region_grads

    return _module_constant(region_grads, "CHUNK_BYTES", size)


def send_chunk(size):
    """Per-point arrays sent to rank 0 in messages of ``size`` values (small: many messages)."""
    from specbias_ext.analysis import sharded

    return _module_constant(sharded, "SEND_CHUNK", size)


def _random_rows(gen, k, words):
    """k random int64 rows over the full range (negative words included), all distinct."""
    rows = torch.randint(-2 ** 63, 2 ** 63 - 1, (k, words), dtype=torch.int64, generator=gen)
    assert torch.unique(rows, dim=0).shape[0] == k
    return rows


def _rows_owned_by(gen, owner, world, k, words):
    """k distinct random rows that all hash to ``owner`` among ``world`` ranks."""
    from specbias_ext.analysis.table_combine import owners

    rows = _random_rows(gen, 64 * k * world, words)
    rows = rows[owners(rows, world) == owner][:k]
    assert rows.shape[0] == k
    return rows


# Which rows of a pool every rank's table holds, in table order (world size -> ranks' lists).
_LAYOUTS = {
    # a pattern in ranks 0 and 2 but not 1 (0), in 0 and 1 (1), in 1 and 2 (5), in all (4)
    "spread": {2: [[0, 1, 2, 3, 4], [5, 1, 4, 6, 0]],
               3: [[0, 1, 2, 3, 4], [5, 1, 4, 6], [0, 7, 5, 2, 4, 8, 3]]},
    "empty_rank": {2: [[], [0, 1, 2]], 3: [[0, 1], [], [1, 2, 0]]},
    "one_pattern": {2: [[0], [0]], 3: [[0], [0], [0]]},
    "all_empty": {2: [[], []], 3: [[], [], []]},
}


def combine_case(name: str, world: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Synthetic tables (patterns int64 [n_r, words], counts int64 [n_r]) for every rank:
    distinct rows within a rank, in table order, deterministic."""
    gen = torch.Generator().manual_seed(sum(map(ord, name)) + 1000 * world)
    if name in _LAYOUTS:
        layout = _LAYOUTS[name][world]
        words = {"spread": 2, "empty_rank": 3, "one_pattern": 1, "all_empty": 2}[name]
        pool = _random_rows(gen, 1 + max([i for rows in layout for i in rows], default=0), words)
        if name == "spread":   # two rows that differ only in their last word
            pool[6, 0] = pool[5, 0]
        tables = [pool[torch.tensor(rows, dtype=torch.int64)] for rows in layout]
    elif name in ("owner_first", "owner_last"):   # every pattern hashes to one rank
        owner = 0 if name == "owner_first" else world - 1
        pool = _rows_owned_by(gen, owner, world, 9, 2)
        tables = [pool[torch.randperm(9, generator=gen)[:4 + r]] for r in range(world)]
    elif name == "random":   # many patterns, random overlaps, 3 words
        pool = _random_rows(gen, 300, 3)
        tables = [pool[torch.randperm(300, generator=gen)[:int(k)]]
                  for k in torch.randint(50, 200, (world,), generator=gen)]
    else:
        raise KeyError(name)
    return [(t, torch.randint(1, 1000, (t.shape[0],), dtype=torch.int64, generator=gen))
            for t in tables]


def _combine_job(kw, group):
    from specbias_ext.analysis import table_combine

    rank = dist.get_rank(group)
    patterns, counts = combine_case(kw["case"], dist.get_world_size(group))[rank]
    if kw.get("bad_dtype_on") == rank:
        patterns = patterns.to(torch.int32)
    if kw.get("bad_words_on") == rank:
        patterns = torch.cat([patterns, patterns[:, :1]], dim=1)
    before = table_combine.TABLE_CHUNK
    table_combine.TABLE_CHUNK = kw.get("chunk", before)
    try:
        mapping, sizes = table_combine.combine_tables(patterns, counts, group)
    finally:
        table_combine.TABLE_CHUNK = before
    return {"mapping": mapping, "sizes": sizes}


def run(rank, world, port, jobs, results):
    """jobs: list of (case name, extra kwargs); writes one result per job to results/<rank>.pt.

    Case "combine" calls ``combine_tables`` on ``combine_case(extra["case"], ...)``; with
    ``extra["ranks"]`` a job runs in a new group of those ranks (the others record "skipped")."""
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    from grid_cases import make_case
    from specbias_ext.analysis import analyze_grid

    outs = []
    try:
        for name, extra in jobs:
            kw = dict(extra)
            group = None
            if "ranks" in kw:
                group = dist.new_group(kw.pop("ranks"))   # every rank creates every group
            try:
                if group is not None and dist.get_rank(group) < 0:
                    outs.append({"skipped": True})
                    continue
                if name == "combine":
                    outs.append(_combine_job(kw, group))
                    continue
                grid, model, case_kw = make_case(name)
                case_kw.update(kw)
                if case_kw.pop("fail", False):
                    case_kw["grad_out"] = fail_on_rank_1
                with chunk_bytes(case_kw.pop("chunk_bytes", None)), \
                        send_chunk(case_kw.pop("send_chunk", None)):
                    res = analyze_grid(model, grid, group=group, **case_kw)
                rg = res.region_grads
                outs.append({"summary": res.summary(), "counts": res.region_counts,
                             "hist": res.neighbor_hist, "on": res.bit_counts, "ids": res.ids,
                             "ids_path": res.ids_path, "lc_path": res.lc_path,
                             "lc": (res.lc_hist, res.lc_layer_sums, res.lc_counts),
                             "region_grads": None if rg is None else
                             (rg.norm_of_sum, rg.sum_of_norms, rg.coherence)})
            except Exception as e:  # noqa: BLE001 - reported to the test
                outs.append({"error": f"{type(e).__name__}: {e}",
                             "trace": traceback.format_exc()})
            finally:
                if group is not None:   # the ranks outside the group wait (rank 0 has the store)
                    dist.barrier()
    finally:
        torch.save(outs, os.path.join(results, f"{rank}.pt"))
        dist.destroy_process_group()
