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
def chunk_bytes(size):
    """Region-gradient chunks of ``size`` bytes (small: the chunks spread over the ranks)."""
    from specbias_ext.analysis import region_grads

    old = region_grads.CHUNK_BYTES
    region_grads.CHUNK_BYTES = old if size is None else size
    try:
        yield
    finally:
        region_grads.CHUNK_BYTES = old


def run(rank, world, port, jobs, results):
    """jobs: list of (case name, extra kwargs); writes one result per job to results/<rank>.pt."""
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
            grid, model, kw = make_case(name)
            kw.update(extra)
            if kw.pop("fail", False):
                kw["grad_out"] = fail_on_rank_1
            try:
                with chunk_bytes(kw.pop("chunk_bytes", None)):
                    res = analyze_grid(model, grid, **kw)
                rg = res.region_grads
                outs.append({"summary": res.summary(), "counts": res.region_counts,
                             "hist": res.neighbor_hist, "on": res.bit_counts, "ids": res.ids,
                             "region_grads": None if rg is None else
                             (rg.norm_of_sum, rg.sum_of_norms, rg.coherence)})
            except Exception as e:  # noqa: BLE001 - reported to the test
                outs.append({"error": f"{type(e).__name__}: {e}",
                             "trace": traceback.format_exc()})
    finally:
        torch.save(outs, os.path.join(results, f"{rank}.pt"))
        dist.destroy_process_group()
