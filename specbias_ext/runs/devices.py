"""Checking the ``--device`` a command or run asks for."""
from __future__ import annotations

import torch


def check_device(device: str) -> torch.device:
    """The torch.device for ``device`` ("cpu" or "cuda[:k]"); a clear error when CUDA is asked
    for but not visible, or for any other kind."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device!r}: expected cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to torch "
                         f"(torch {torch.__version__}, cuda build: {torch.version.cuda}); "
                         "run with --device cpu or on a machine with a GPU")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}: expected cpu or cuda")
    return dev
