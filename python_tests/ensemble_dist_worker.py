"""Worker of the distributed ensemble tests: one rank of a gloo group on 127.0.0.1, and the
ensemble the tests analyse (shared with the single-process side of the comparison)."""
from __future__ import annotations

import contextlib
import datetime
import io
import os
import traceback

import torch
import torch.distributed as dist

from grid_cases import wavy_grad_out
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.nets.models import CoordinateMLP

#: The ensemble: seeds x encodings of a small 2D coordinate MLP.
MEMBERS = [dict(encoding="pe:2", depth=2, width=24, in_dim=2, seed=1),
           dict(encoding="raw", depth=2, width=20, in_dim=2, seed=2),
           dict(encoding="pe:1", depth=3, width=16, in_dim=2, seed=3)]
KWARGS = dict(tile=50, ids="file", grad_out=wavy_grad_out)


def grid():
    return CoordinateGrid((23, 17), (-1.0, 1.0))


def model(k):
    return CoordinateMLP(**MEMBERS[k]).eval()


def recording_loader(k, marks):
    """A loader of member k that leaves a file saying which rank called it."""
    def load():
        rank = dist.get_rank() if dist.is_initialized() else 0
        with open(os.path.join(marks, f"member{k}.rank{rank}"), "w"):
            pass
        return model(k)
    return load


def broken_loader():
    raise ValueError("member 1 is broken on purpose")


def _ensemble(out, marks):
    from specbias_ext.analysis import analyze_ensemble

    os.makedirs(marks, exist_ok=True)
    members = [recording_loader(0, marks), recording_loader(1, marks), model(2)]
    return analyze_ensemble(members, grid(), out=out, **KWARGS)


def _failing(out):
    from specbias_ext.analysis import analyze_ensemble

    return analyze_ensemble([model(0), broken_loader, model(2)], grid(), out=out, tile=50)


def _cli(argv):
    from specbias_ext.commands.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return {"rc": rc, "err": err.getvalue()}


def run(rank, world, port, jobs, results):
    """jobs: list of (kind, arguments); writes one result per job to results/<rank>.pt."""
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    # what torchrun sets: `specbias analyze` (analysis.launch) then joins this group
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    outs = []
    try:
        for kind, arg in jobs:
            try:
                if kind == "ensemble":
                    outs.append({"summaries": _ensemble(**arg)})
                elif kind == "fail":
                    outs.append({"summaries": _failing(**arg)})
                elif kind == "cli":
                    outs.append(_cli(arg))
                else:
                    raise ValueError(f"unknown job {kind!r}")
            except Exception as e:  # noqa: BLE001 - reported to the test
                outs.append({"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(),
                             "attrs": {a: getattr(e, a) for a in ("rank", "member", "name")
                                       if hasattr(e, a)}})
    finally:
        torch.save(outs, os.path.join(results, f"{rank}.pt"))
        dist.destroy_process_group()
