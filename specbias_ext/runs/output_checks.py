"""Checks done before any work starts: that an output folder can be written, and that what a
request would hold in memory fits in what the process may use (the estimate is in the message).
"""
from __future__ import annotations

import os
import resource
import shutil
import tempfile


#: Bytes per grid point of its region ids (int64): the grid footprint every size check uses.
ID_BYTES = 8


def nearest_existing(path) -> str:
    """The absolute path of ``path`` or of its nearest ancestor that exists."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    return existing


def free_disk_bytes(path) -> int:
    """Free bytes on the file system ``path`` is (or would be created) on."""
    return shutil.disk_usage(nearest_existing(path)).free


def check_writable_folder(path, flag: str = "--out") -> str:
    """``path`` as given, once it is known to be (or to be creatable as) a writable folder.

    Nothing is created: the nearest existing folder on the way to ``path`` gets a probe file
    that is deleted at once (write permission alone says nothing for root or read-only mounts).
    """
    if path is None or str(path).strip() == "":
        raise ValueError(f"{flag}: empty path; give a folder such as {flag} results")
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path!r} is a file, expected a folder; choose another path "
                         "or remove the file")
    existing = nearest_existing(path)
    if not os.path.isdir(existing):
        raise ValueError(f"{flag} {path!r}: {existing!r} is a file, so the folder cannot be "
                         "created; choose another path")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".specbias-probe-"):
            pass
    except OSError as err:
        raise ValueError(f"{flag} {path!r}: cannot write in {existing!r} ({err.strerror}); "
                         "choose a folder you can write to") from None
    return path


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room():
    """What the process's cgroup (v2) still allows, or None without a limit."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            return max(0, int(limit) - int(f.read().strip()))
    except (OSError, ValueError):
        return None


def _rlimit_room(limit: int, statm_field: int):
    """A resource limit less what the process uses of it already (from /proc/self/statm), or
    None without a limit."""
    soft, _ = resource.getrlimit(limit)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[statm_field]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(0, soft - used)


def available_memory_bytes():
    """Bytes the process can still allocate: MemAvailable, lowered by a cgroup memory limit, an
    address-space limit (ulimit -v) or a data-segment limit (ulimit -d) when there is one; None
    where none of them is known."""
    known = [v for v in (_meminfo_available(), _cgroup_room(),
                         _rlimit_room(resource.RLIMIT_AS, 0),       # statm: size
                         _rlimit_room(resource.RLIMIT_DATA, 5))     # statm: data + stack
             if v is not None]
    return min(known) if known else None


def gib(nbytes: float) -> str:
    """``nbytes`` for a message: "3.2 GiB", or MiB below one GiB."""
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.1f} GiB"
    return f"{nbytes / 2**20:.1f} MiB"


def fits_in_memory(need_bytes: float, share: float, available=None) -> bool:
    """Whether ``need_bytes`` is at most ``share`` of the available memory (True when it cannot
    be known)."""
    available = available_memory_bytes() if available is None else available
    return available is None or need_bytes <= share * available


def check_memory(need_bytes: float, what: str, advice: str, *, share: float = 1.0,
                 available=None) -> None:
    """Refuse (ValueError) a request whose estimated memory ``need_bytes`` exceeds ``share`` of
    the available memory, before anything is allocated. The callers' estimates are upper ones,
    so by default they are held against all of it: a refused request cannot fit, and one that
    fits is never refused for the estimate's slack. ``what`` starts the message (the flag and how
    the estimate is made); ``advice`` ends it (what to change)."""
    available = available_memory_bytes() if available is None else available
    if fits_in_memory(need_bytes, share, available):
        return
    raise ValueError(f"{what} needs about {gib(need_bytes)} of memory, more than "
                     f"{share:.0%} of the {gib(available)} available; {advice}")
