"""Rows sent to the rank chosen for each, over a torch.distributed group (all-to-all)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.distributed as dist

Tensor = torch.Tensor


def comm_device(group) -> torch.device:
    """Where collective buffers live: the current GPU under NCCL, else the CPU."""
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def exchange_rows(tensors: Sequence[Tensor], dest: Tensor, group=None) -> list[Tensor]:
    """Send row i of every tensor (same first dimension) to rank ``dest[i]`` of ``group``.

    Returns, per tensor, the rows this rank received, by source rank and, within a source,
    in their original order (so rows that were in a global order stay in it). CPU tensors out.
    """
    world = dist.get_world_size(group)
    dev = comm_device(group)
    dest = dest.to(torch.int64).cpu()
    order = torch.argsort(dest, stable=True)
    send = torch.bincount(dest, minlength=world)
    send_dev = send.to(dev)
    recv_dev = torch.empty_like(send_dev)
    dist.all_to_all_single(recv_dev, send_dev, group=group)
    recv = recv_dev.cpu()
    out_splits, in_splits = recv.tolist(), send.tolist()
    result = []
    for t in tensors:
        rows = t.cpu()[order].contiguous().to(dev)
        got = torch.empty((sum(out_splits),) + tuple(t.shape[1:]), dtype=t.dtype, device=dev)
        dist.all_to_all_single(got, rows, out_splits, in_splits, group=group)
        result.append(got.cpu())
    return result
