"""The checkpoint of `specbias train` and the grid.json beside it: written by the trainer (and
the train command), read back by the trainer to resume and by `specbias analyze`.

``checkpoint.pt`` holds, under these keys: ``model`` (the state dict), ``model_config`` (the
``CoordinateMLP`` description it is rebuilt from), ``optimizer`` (its state dict),
``shuffle_rng`` (the minibatch generator's state), ``epoch``, ``loss`` (per epoch),
``timings``, ``trajectory`` (the settings a resumed run must share) and ``monitor`` (the
monitor's state). ``grid.json`` holds the training grid: ``grid_shape``, ``coord_range`` and
``signal``. Both are written atomically; the checkpoint is read with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn

from ..nets.models import CoordinateMLP
from .files import PathLike, atomic_torch_save, atomic_write_json, load_checkpoint_file

GRID_FILE = "grid.json"


def write_checkpoint(path: PathLike, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                     shuffle_rng: torch.Tensor, epoch: int, loss: list, timings: dict,
                     model_config: Any, trajectory: dict, monitor: dict) -> None:
    """Write the checkpoint of a training run at ``epoch`` (``monitor``: the monitor's state,
    ``{}`` without one)."""
    atomic_torch_save(path, {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "shuffle_rng": shuffle_rng, "epoch": epoch, "loss": loss, "timings": dict(timings),
        "model_config": model_config, "trajectory": trajectory, "monitor": monitor,
    })


def read_checkpoint(path: PathLike, map_location="cpu") -> dict:
    """The checkpoint's contents, to resume from (``files.CheckpointError`` when it cannot be
    read safely)."""
    return load_checkpoint_file(path, map_location=map_location)


def load_trained_model(checkpoint: str) -> tuple[CoordinateMLP, dict]:
    """A `specbias train` checkpoint as ``(CoordinateMLP, the grid.json saved beside it)``;
    a ValueError a user can act on when it is missing, foreign or damaged."""
    if not os.path.exists(checkpoint):
        raise ValueError(f"checkpoint {checkpoint!r} does not exist; write one with "
                         "`specbias train --out DIR`")
    ckpt = read_checkpoint(checkpoint)
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{checkpoint}: not a checkpoint of `specbias train` "
                         "(no model_config/model); pass the checkpoint.pt of a train run, or "
                         "--model pkg.module:Class for a state dict of your own model")
    try:
        model = CoordinateMLP.from_config(ckpt["model_config"])
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{checkpoint}: its weights do not fit the model it describes "
                         f"({first}); the file is damaged or from another program") from None
    return model, read_grid(checkpoint)


def write_grid(folder: PathLike, grid: dict) -> None:
    """``<folder>/grid.json``: the training grid of the run in ``folder``."""
    atomic_write_json(os.path.join(folder, GRID_FILE), grid)


def read_grid(checkpoint: PathLike) -> dict:
    """The grid.json `specbias train` saved beside ``checkpoint`` ({} when there is none)."""
    grid_file = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), GRID_FILE)
    saved = {}
    if os.path.exists(grid_file):
        try:
            with open(grid_file) as f:
                saved = json.load(f)
        except (OSError, ValueError) as err:
            raise ValueError(f"{grid_file}: cannot read it ({err}); pass --grid") from None
    return saved
