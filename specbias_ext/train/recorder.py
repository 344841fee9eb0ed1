"""The trainer's monitor: a RegionMonitor whose records are keyed by training epoch.

``Recorder(coords, grid_shape, target, config, signal_freqs, every=k)`` records at epochs 0, k,
2k, ... (plus ``at``); record e means "after e epochs". Array keys are ``<name>_e<epoch:06d>``.
It is used by ``specbias_ext.train.trainer.train`` exactly as a user's loop uses a RegionMonitor.
"""
from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor

from ..runs.files import PathLike
from .measurements import MonitorConfig
from .monitor import RegionMonitor


class Recorder(RegionMonitor):
    """A ``RegionMonitor`` on a known grid with ``step_name="epoch"`` (see its docstring)."""

    def __init__(self, coords: Tensor, grid_shape: Sequence[int], target: Tensor,
                 config: Optional[MonitorConfig] = None,
                 signal_freqs: Optional[Sequence[int]] = None, *, every: Optional[int] = None,
                 at: Optional[Sequence[int]] = None, out: Optional[PathLike] = None,
                 resume: bool = False, overwrite: bool = False):
        super().__init__(coords, target, None, every=every, at=at, config=config,
                         grid_shape=grid_shape, signal_freqs=signal_freqs, out=out,
                         resume=resume, overwrite=overwrite, tensorboard=False,
                         step_name="epoch")
