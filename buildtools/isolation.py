"""Refuse a build against a torch other than the one that will import the extension.

pip's default build isolation installs the newest torch from the index into a temporary folder and
builds against it; the result then loads (or crashes) under the user's own torch. The extension's
ABI is that of the exact torch it was compiled with, so the build must use the installed torch:
``pip install --no-build-isolation .``.
"""
from __future__ import annotations

import os
import subprocess
import sys

# Path pieces of the temporary environments isolated PEP 517 builds run in (pip, build, uv).
ISOLATED_MARKERS = ("pip-build-env-", "build-env-", "builds-v0")
COMMAND = "python -m pip install --no-build-isolation ."


def in_isolated_env(torch_file: str) -> bool:
    return any(marker in torch_file for marker in ISOLATED_MARKERS)


def target_torch(python: str = sys.executable) -> str | None:
    """Version of the torch `python` imports outside the build's isolation (None if none)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
    try:
        out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def refusal(build_version: str, build_file: str, target_version: str | None) -> str | None:
    """The message to stop the build with, or None when the build torch is the target torch."""
    if not in_isolated_env(build_file) or build_version == target_version:
        return None
    if os.environ.get("SPECBIAS_ALLOW_ISOLATED_BUILD") == "1":
        return None
    running = (f"{sys.executable} imports torch {target_version}" if target_version
               else "the torch of the environment it is installed into is unknown or missing")
    return (
        "specbias_ext must be compiled against the torch that will import it, but this build runs "
        f"in an isolated environment with torch {build_version} ({os.path.dirname(build_file)}) "
        f"while {running}.\n"
        "Install torch first (pip install torch), then build against it:\n"
        f"    {COMMAND}\n"
        "(To build a wheel for the isolated environment's torch on purpose, set "
        "SPECBIAS_ALLOW_ISOLATED_BUILD=1.)")


def no_torch_message() -> str:
    return ("specbias_ext is compiled against the installed torch, but this build cannot import "
            "torch: either torch is not installed yet, or pip runs the build in an isolated "
            "environment (its default), which must not bring its own torch. Install torch first "
            "(pip install torch), then:\n"
            f"    {COMMAND}")


def import_build_torch():
    """torch for the build, or exit with the command to use (it is no build requirement on
    purpose: an isolated build would otherwise download the newest torch, several GB, and compile
    against that)."""
    try:
        import torch
    except ImportError:
        raise SystemExit(no_torch_message()) from None
    return torch


def check_or_exit() -> None:
    import torch

    if not in_isolated_env(torch.__file__):
        return
    # `python -m build` runs the build in a throw-away venv: the interpreter that will import the
    # result is unknown, so no torch can be confirmed.
    target = None if in_isolated_env(sys.prefix) else target_torch()
    message = refusal(torch.__version__, torch.__file__, target)
    if message:
        raise SystemExit(message)
