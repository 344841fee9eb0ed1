"""Peak memory of one call, for the benchmarks' extra_info.

CUDA: the caching allocator's peak (torch.cuda.max_memory_allocated) above what was allocated
before the call. CPU: the process's resident-set high-water mark (VmHWM) above the resident set
before the call; Linux lets a process reset its own high-water mark through /proc/self/clear_refs.
Blocks that earlier calls freed stay resident in glibc's heap and would be reused without
raising the mark, so the heap's free memory goes back to the system first (malloc_trim).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
from typing import Callable

import torch


def _release_free_heap() -> None:
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: the peak may then undercount
        pass


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_bytes(fn: Callable[[], object], device: str | torch.device = "cpu") -> int:
    """Run fn() once and return its peak memory in bytes above the level before it ran."""
    device = torch.device(device)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del result
        return int(peak)
    _release_free_heap()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _rss_kib("VmRSS")
    result = fn()
    peak = _rss_kib("VmHWM") - before
    del result
    return max(0, peak) * 1024


def record(benchmark, name: str, fn: Callable[[], object], device="cpu") -> None:
    """Store fn's peak memory (MiB) in benchmark.extra_info[name + '_peak_mib']."""
    benchmark.extra_info[f"{name}_peak_mib"] = round(peak_memory_bytes(fn, device) / 2**20, 2)


def peak_mib(fn, device) -> float:
    """Peak memory of ``fn()`` in MiB, one decimal."""
    return round(peak_memory_bytes(fn, device) / 2**20, 1)
