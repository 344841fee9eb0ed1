"""Failures in a process group: a step that fails on one rank makes every rank raise (itself
with its own error, the others naming it) instead of leaving them blocked in a collective."""
from __future__ import annotations

import traceback
from typing import Callable, Optional, TypeVar

import torch.distributed as dist

T = TypeVar("T")


class RankFailed(RuntimeError):
    """Another rank of the group failed; the message carries its error."""


def sync_status(error: Optional[BaseException], group) -> None:
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


def guarded(fn: Callable[[], T], group) -> T:
    """``fn()`` on every rank, then a status exchange: all ranks return or all raise."""
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - every rank must reach the status exchange
        sync_status(e, group)
        raise
    sync_status(None, group)
    return out
