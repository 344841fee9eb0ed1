"""Best-of-N wall time of a call, synchronising the GPU around each timed call, and the timing
of our op inside pytest-benchmark."""
from __future__ import annotations

import time
from typing import Callable

import torch


def sync(device) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], device, rounds: int = 3, warmup: bool = True) -> float:
    """Smallest wall time in seconds of `rounds` calls of fn (after one untimed call if warmup)."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(rounds):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def run_ours(benchmark, fn, device, rounds: int = 3) -> float:
    """Time ``fn`` with pytest-benchmark (GPU synchronised inside the timed call); the best
    round in seconds, for the ratios against the alternatives."""
    def timed():
        out = fn()
        sync(device)
        return out
    benchmark.pedantic(timed, rounds=rounds, iterations=1, warmup_rounds=1)
    return benchmark.stats.stats.min
