"""Rows sent between the ranks of a torch.distributed group: pairwise rounds of point-to-point
transfers, one destination's rows built at a time, and rows gathered to one rank."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.distributed as dist

Tensor = torch.Tensor


def comm_device(group) -> torch.device:
    """Where collective buffers live: the current GPU under NCCL, else the CPU."""
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def group_rank_to_global(group, rank: int) -> int:
    if group is None or group is dist.group.WORLD:
        return rank
    return dist.get_global_rank(group, rank)


def offsets(counts: Sequence[int]) -> list[int]:
    out = [0]
    for c in counts:
        out.append(out[-1] + c)
    return out


def exchange(send_block, send_counts: list[int], recv: tuple, recv_counts: list[int],
              group) -> None:
    """Every rank sends rank d the tensors ``send_block(d)`` (a tuple of contiguous tensors of
    ``send_counts[d]`` rows) and receives rank s's into rows ``offset(s):offset(s) +
    recv_counts[s]`` of the tensors ``recv`` (blocks in rank order). P - 1 rounds: in round k
    rank r sends to r + k and receives from r - k (mod P), both in one ``batch_isend_irecv``, so
    only one destination's block is built at a time. All buffers must already exist: nothing
    here allocates more than the communication itself (no failure on one rank only)."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    off = offsets(recv_counts)
    if recv_counts[rank]:
        for buf, part in zip(recv, send_block(rank)):
            buf[off[rank]:off[rank + 1]] = part
    for k in range(1, world):
        dst, src = (rank + k) % world, (rank - k) % world
        ops_ = []
        if send_counts[dst]:
            peer = group_rank_to_global(group, dst)
            ops_ += [dist.P2POp(dist.isend, t, peer, group) for t in send_block(dst)]
        if recv_counts[src]:
            peer = group_rank_to_global(group, src)
            ops_ += [dist.P2POp(dist.irecv, buf[off[src]:off[src + 1]], peer, group)
                     for buf in recv]
        if ops_:
            for work in dist.batch_isend_irecv(ops_):
                work.wait()


def exchange_rows(tensors: Sequence[Tensor], dest: Tensor, group=None) -> list[Tensor]:
    """Send row i of every tensor (same first dimension) to rank ``dest[i]`` of ``group``.

    Returns, per tensor, the rows this rank received (CPU), by source rank and, within a
    source, in their original order (so rows that were in a global order stay in it)."""
    world = dist.get_world_size(group)
    dev = comm_device(group)
    dest = dest.to(torch.int64).cpu()
    rows = [t.cpu() for t in tensors]
    order = torch.argsort(dest, stable=True)
    send = torch.bincount(dest, minlength=world)
    send_dev = send.to(dev)
    recv_dev = torch.empty_like(send_dev)
    dist.all_to_all_single(recv_dev, send_dev, group=group)
    to_rank, from_rank = send.tolist(), recv_dev.cpu().tolist()
    start = offsets(to_rank)
    got = tuple(torch.empty((sum(from_rank),) + tuple(t.shape[1:]), dtype=t.dtype, device=dev)
                for t in tensors)

    def block(d):
        idx = order[start[d]:start[d + 1]]
        return tuple(t.index_select(0, idx).to(dev).contiguous() for t in rows)

    exchange(block, to_rank, got, from_rank, group)
    return [g.cpu() for g in got]


def all_lengths(n: int, group) -> list[int]:
    """Every rank's ``n``, in rank order."""
    dev = comm_device(group)
    sizes = [torch.zeros(1, dtype=torch.int64, device=dev)
             for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.int64, device=dev), group=group)
    return [int(s) for s in sizes]


def gather_rows(rows: Tensor, group, dst_global: int, is_dst: bool) -> Optional[list[Tensor]]:
    """Gather a [n_r, ...] tensor of every rank to dst (padded to the largest n_r); CPU out."""
    dev = comm_device(group)
    sizes = all_lengths(int(rows.shape[0]), group)
    top = max(sizes)
    padded = torch.zeros((top,) + tuple(rows.shape[1:]), dtype=rows.dtype, device=dev)
    padded[:rows.shape[0]] = rows.to(dev)
    bufs = [torch.zeros_like(padded) for _ in sizes] if is_dst else None
    dist.gather(padded, bufs, dst=dst_global, group=group)
    if not is_dst:
        return None
    return [b[:s].cpu() for b, s in zip(bufs, sizes)]
