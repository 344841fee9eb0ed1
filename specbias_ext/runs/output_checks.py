"""Checks that an output folder can be written, done before any work starts, and the memory
estimate that refuses grids too large to hold."""
from __future__ import annotations

import os
import tempfile


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
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
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


def available_memory_bytes():
    """MemAvailable from /proc/meminfo in bytes, or None where there is no such file."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
