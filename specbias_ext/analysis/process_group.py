"""Joining the process group that ``torchrun`` describes, with a bounded collective timeout."""
from __future__ import annotations

import datetime
import os
from typing import Optional

import torch
import torch.distributed as dist


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
