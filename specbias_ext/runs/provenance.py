"""What produced a result: the one record every written result cites (the reproduce report and
claims.json, the JSON of `specbias analyze` and of the grid analysis).

``provenance()`` is what produced it: package version, git commit (when the package runs from a
git checkout), the command line, the date, the device, the number of processes, the torch
version and the GPU. ``environment()`` is the machine and the build: Python, torch, CPU, threads
and what the compiled extension was built with. A result file keeps its provenance apart from
its values (``with_provenance``: one top-level key), because the values must be identical
whatever the number of processes while the provenance says how many there were.
"""
from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
from typing import Optional, Sequence

import torch
import torch.distributed as dist

from .. import _loader  # noqa: F401  (registers torch.ops.specbias, whose build_info is read here)
from .._version import __version__

#: The key of the provenance in a result file; everything else in the file is its values.
PROVENANCE_KEY = "provenance"


@functools.lru_cache(maxsize=1)
def git_commit() -> Optional[str]:
    """The commit of the git checkout the package runs from (with " (with uncommitted changes)"
    when tracked files differ from it), or None outside a checkout or without git."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def process_count() -> int:
    """The processes of the default torch.distributed group (1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _cuda_device() -> Optional[str]:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def provenance(device=None, processes: Optional[int] = None,
               argv: Optional[Sequence[str]] = None) -> dict:
    """What produced a result: ``package`` (name and version), ``git_commit`` (None when
    unknown), ``command`` (``argv``, default ``sys.argv``, shell-quoted), ``date`` (UTC, ISO
    8601 to the second), ``device`` (as given, a string; None when not given), ``processes``
    (default: those of the default process group, 1 without one), ``cuda_device`` (the GPU's
    name, None without one) and ``torch`` (its version)."""
    return {"package": f"specbias_ext {__version__}", "git_commit": git_commit(),
            "command": " ".join(shlex.quote(a) for a in (sys.argv if argv is None else argv)),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": None if device is None else str(device),
            "processes": process_count() if processes is None else int(processes),
            "cuda_device": _cuda_device(), "torch": torch.__version__}


def environment() -> dict:
    """The machine and the build: ``device_cpu``, ``python``, ``torch``, ``threads`` (torch's
    CPU threads), ``build_info`` (what the compiled extension was built with, as
    ``ops.build_info`` reports it less the runtime keys given here) and ``cuda_device``."""
    return {"device_cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "build_info": json.loads(torch.ops.specbias.build_info()),
            "cuda_device": _cuda_device()}


def with_provenance(values: dict, device=None, processes: Optional[int] = None) -> dict:
    """``values`` with their ``provenance(device, processes)`` under ``PROVENANCE_KEY`` (last)."""
    if PROVENANCE_KEY in values:
        raise ValueError(f"values: already hold a {PROVENANCE_KEY!r} key")
    return {**values, PROVENANCE_KEY: provenance(device, processes)}


def without_provenance(document: dict) -> dict:
    """The values of a result file: everything but its provenance."""
    return {k: v for k, v in document.items() if k != PROVENANCE_KEY}
