"""RegionMonitor: region dynamics recorded from inside any training loop.

    monitor = RegionMonitor(coords, target=y, encoding=enc, every=25,
                            measurements=("regions", "hamming", "confusion"), out="runs/x")
    for step in range(steps):
        ...                      # the user's own forward, loss and optimiser step
        monitor(model, step)     # records when due; returns the record or None
    RegionMonitor.load("runs/x").plot()     # later, without the model

The model is anything ``specbias_ext.relu_network`` describes. The monitor reads its weights
through that description (detached), evaluates it with the network forward on the model's
device and dtype, and never calls the model, so its parameters, gradients, train/eval mode and
the global RNG state are left as they were. The points the network sees are
``encoding(coords)`` (``encoding`` given: a module, a callable or a spec string such as
``'pe:4'``), ``model.encode(coords)`` (a model with an ``encode`` method such as
``CoordinateMLP``) or ``coords`` themselves.

This module holds the schedule and the calls; what each measurement records is in
``measurements``, the files in ``record_files``, reading back in ``records``. The definitions of
the quantities are in docs/measurements.md.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from .. import measure
from ..data.samplers import PairSampling
from ..nets.encodings import Encoding
from ..nets.network import relu_network
from ..runs.files import PathLike
from . import monitor_inputs as inputs
from .measurements import (MEASUREMENTS, NEEDS_GRID, NEEDS_TARGET, DivergedError, MonitorConfig,
                           PairSet, RecordInputs, take_record)
from .record_files import RecordFiles
from .records import MonitorRecords

Tensor = torch.Tensor

__all__ = ["MEASUREMENTS", "DivergedError", "MonitorConfig", "RegionMonitor"]


class RegionMonitor:
    """Records the measurements of ``config`` (or ``measurements``) of a model on fixed points.

    ``coords [N, D]``: the points. Pair, neighbour and spectral measurements need a 1D or 2D
    grid in row-major order: ``grid_shape`` given, or coordinates that are one (sorted, evenly
    spaced, as ``grid_coords`` makes them). On other points the monitor records only what needs
    no neighbours and says so (a warning and ``notes``). ``target``: [N], [N, C] or [H, W, C],
    needed by the loss, confusion, gradient and spectral measurements. ``every``: record at
    steps 0, every, 2 every, ...; ``at``: extra steps (``every=None`` and no ``at``: only
    explicit ``record`` calls). ``signal_freqs``: integer frequencies of the 1D spectral
    residual. ``step_name``: the key of the step in each record.

    ``out``: a folder the records are written to as they are taken (``record_files``); a folder
    holding another monitor's records is refused unless ``resume=True`` (continue them: steps
    already recorded are not taken again; refused when there are none) or ``overwrite=True``
    (replace that monitor's files).
    ``tensorboard``: scalars under ``out/tensorboard`` when ``torch.utils.tensorboard`` imports
    (None), always (True) or never (False). All inputs are checked here, before training.
    """

    def __init__(self, coords: Tensor, target: Optional[Tensor] = None, encoding=None, *,
                 every: Optional[int] = 25, at: Optional[Sequence[int]] = None,
                 measurements: Optional[Sequence[str]] = None,
                 config: Optional[MonitorConfig] = None,
                 grid_shape: Optional[Sequence[int]] = None,
                 signal_freqs: Optional[Sequence[int]] = None, out: Optional[PathLike] = None,
                 resume: bool = False, overwrite: bool = False,
                 tensorboard: Optional[bool] = None, step_name: str = "step"):
        self.every = inputs.check_every(every)
        self.at = inputs.check_at(at)
        self.step_name = inputs.check_step_name(step_name)
        out = inputs.check_out(out)
        if out is None and (resume or overwrite):
            raise ValueError("out: resume/overwrite need the folder the records are in")
        if out is None and tensorboard:
            raise ValueError("tensorboard: needs out (the folder the event files go to)")
        self.coords = inputs.check_coords(coords)
        self.encoding = inputs.resolve_encoding(encoding, self.coords.shape[1])
        n = self.coords.shape[0]
        self.grid_shape = inputs.grid_of(self.coords, grid_shape)
        self.config = cfg = self._config(config, measurements)
        self.target = None if target is None else inputs.check_target(target, n)
        missing = [m for m in cfg.measurements if m in NEEDS_TARGET and self.target is None]
        if missing:
            raise ValueError(f"target: required for the measurements {missing}")
        self.signal_freqs = None if signal_freqs is None else [int(k) for k in signal_freqs]
        if cfg.wants("spectral"):
            self._check_spectral()
        self.pairs: dict[str, tuple[Tensor, Tensor]] = {}
        if cfg.wants("hamming") or cfg.wants("confusion"):
            sampling = cfg.pairs if cfg.pairs is not None else \
                PairSampling().fitted(self.grid_shape)
            self.pairs = sampling.sample(self.grid_shape, seed=cfg.seed)
        self.history: list[dict[str, Any]] = []
        self._recorded: set[int] = set()
        self.arrays: dict[str, np.ndarray] = {}
        self.timings: dict[str, float] = {}
        self._cache: dict[str, Any] = {}
        self.out = out
        self._files = None
        if out is not None:
            self._files = RecordFiles(out, self.settings(), resume=resume, overwrite=overwrite,
                                      tensorboard=tensorboard)
            self.history = list(self._files.earlier)
            self._recorded = {int(r[self.step_name]) for r in self.history}

    def _config(self, config, measurements) -> MonitorConfig:
        if config is None:
            config = MonitorConfig() if measurements is None else \
                MonitorConfig(measurements=measurements)
        elif not isinstance(config, MonitorConfig):
            raise ValueError(f"config: expected a MonitorConfig, got {type(config).__name__}")
        elif measurements is not None:
            config = MonitorConfig(**{**config.__dict__, "measurements": measurements})
        self.notes: list[str] = []
        if self.grid_shape is None:
            dropped = [m for m in config.measurements if m in NEEDS_GRID]
            kept = [m for m in config.measurements if m not in NEEDS_GRID]
            if dropped and not kept:
                raise ValueError(f"grid_shape: the measurements {dropped} need a 1D or 2D grid; "
                                 "pass grid_shape or sorted, evenly spaced coordinates from "
                                 "grid_coords")
            note = inputs.no_grid_note(dropped, config.wants("regions"), self.coords)
            if note:
                self.notes.append(note)
                warnings.warn(note, UserWarning, stacklevel=3)
            config = config.without(dropped)
        return config

    def _check_spectral(self) -> None:
        if len(self.grid_shape) == 1:
            if self.signal_freqs is None:
                raise ValueError("signal_freqs: required for the 1D spectral residual (or leave "
                                 "'spectral' out of the measurements)")
            measure.spectral_residual_1d(self.target[:, 0], self.target[:, 0], self.signal_freqs)
        elif len(self.grid_shape) == 2:
            h, w = self.grid_shape
            bands = measure.radial_band_index((h, w), self.config.num_bands).flatten()
            if bool((torch.bincount(bands, minlength=self.config.num_bands) == 0).any()):
                raise ValueError(f"num_bands: {self.config.num_bands} bands leave a band without "
                                 f"DFT bins on a {h}x{w} grid")

    # ------------------------------------------------------------------ schedule

    def due(self, step: int) -> bool:
        """Whether ``step`` is scheduled and not recorded yet."""
        step = inputs.check_step(step, self.step_name)
        scheduled = step in self.at or (self.every is not None and step % self.every == 0)
        return scheduled and step not in self._recorded

    def __call__(self, model, step: int) -> Optional[dict[str, Any]]:
        """Record ``model`` at ``step`` if due; the record or None."""
        return self.record(model, step) if self.due(step) else None

    # ------------------------------------------------------------------ recording

    def _inputs(self, model, device, dtype) -> tuple[Tensor, Optional[Tensor], Optional[Callable]]:
        """``(x, target, encoder)``: the network's input on the record's coordinates, the target
        and the map from coordinates to ``x`` (None when the network reads the coordinates)."""
        key = f"{device}/{dtype}"
        if self._cache.get("key") != key:
            self._cache = {"key": key,
                           "coords": self.coords.to(device=device, dtype=torch.float64),
                           "target": None if self.target is None
                           else self.target.to(device=device, dtype=dtype),
                           "pairs": PairSet(self.pairs, device) if self.pairs else None}
        coords = self._cache["coords"]
        if self.encoding is not None:
            encoder, fixed, owner = self.encoding, _is_fixed(self.encoding), None
        elif callable(getattr(model, "encode", None)):
            encoding = getattr(model, "encoding", None)
            encoder, fixed, owner = model.encode, _is_fixed(encoding) and encoding is not None, \
                id(model)
        else:
            encoder, fixed, owner = None, True, None
        cached = self._cache.get("x")
        if cached is not None and cached[0] == owner:
            return cached[1], self._cache["target"], encoder
        # The package's encodings are evaluated in float64 and cast (high PE levels need it);
        # anything else sees the coordinates in the network's dtype.
        if not isinstance(self.encoding if self.encoding is not None
                          else getattr(model, "encoding", None), Encoding):
            coords = coords.to(dtype)
        with torch.no_grad():
            x = (coords if encoder is None else encoder(coords)).detach().to(dtype)
        if fixed:                 # a fixed encoding is evaluated once per device/dtype
            self._cache["x"] = (owner, x)
        return x, self._cache["target"], encoder

    def record(self, model, step: int) -> dict[str, Any]:
        """Measure ``model`` now (whatever the schedule) and keep the record.

        A model whose weights or outputs are NaN/inf (training diverged) raises
        ``DivergedError`` and records nothing; the records taken so far stay in ``out``.
        """
        step = inputs.check_step(step, self.step_name)
        start = time.perf_counter()
        net = relu_network(model).detach()
        try:
            inputs.check_network(net, self.step_name, step)
            x, y, encoder = self._inputs(model, net.device, net.dtype)
            rec, arrays = take_record(
                RecordInputs(net, x, self.config, self.grid_shape, self._cache["pairs"],
                             self.signal_freqs, target=y, coords=self._cache["coords"],
                             encoder=encoder), self.step_name, step, self.timings)
        except DivergedError as err:
            raise DivergedError(f"{err} (training diverged: lower the learning rate); nothing "
                                f"was recorded for it{self._resume_hint()}") from None
        rec["record_seconds"] = time.perf_counter() - start
        self.history.append(rec)
        self._recorded.add(step)
        self.arrays.update({self._key(k, step): v for k, v in arrays.items()})
        if self._files is not None:
            self._files.write(rec, arrays, self.history, self.step_name)
        return rec

    def _resume_hint(self) -> str:
        if self.out is None:
            return ""
        taken = f"{len(self.history)} record" + ("" if len(self.history) == 1 else "s")
        return (f"; the {taken} taken so far stay in {self.out!r}, and a "
                f"RegionMonitor(..., out={self.out!r}, resume=True) continues them")

    def _key(self, name: str, step: int) -> str:
        return f"{name}_{self.step_name[0]}{int(step):06d}"

    # ------------------------------------------------------------------ reading back

    @staticmethod
    def load(folder: PathLike) -> MonitorRecords:
        """The records a monitor wrote to ``folder``, without the model: ``series``, ``plot``,
        ``to_table`` (see ``MonitorRecords``)."""
        return MonitorRecords.load(folder)

    @property
    def records(self) -> MonitorRecords:
        """The history as ``MonitorRecords`` (series, tables, figures)."""
        return MonitorRecords(self.history, self.settings(), self.out)

    def series(self, key: str) -> tuple[list[int], list[Any]]:
        """``(steps, values)`` of one recorded quantity over the history; nested keys with dots,
        e.g. ``series("hamming_local.mean")`` or ``series("regions")``."""
        return self.records.series(key)

    def scalar_keys(self) -> list[str]:
        """The dotted keys of the numeric scalars of the last record."""
        return self.records.scalar_keys()

    def to_table(self):
        """The history as a table: a pandas DataFrame with pandas installed, else CSV text."""
        return self.records.to_table()

    def plot(self, keys: Optional[Sequence[str]] = None, path: Optional[PathLike] = None, *,
             width: float = 7.0):
        """The history as a grid of labelled panels (``plots.curves.record_curves``: default
        the regions with their grid and saturation, loss, PSNR, Hamming and confusion of the
        pairs, spectral residual, ... whichever were recorded); saved to ``path``, or to
        ``out/monitor.png`` when the monitor writes a folder."""
        fig = self.records.plot(keys, path, width=width)
        if path is None and self._files is not None:
            self._files.save_figure(fig)
        return fig

    def _repr_png_(self) -> Optional[bytes]:
        return self.records._repr_png_()

    # ------------------------------------------------------------------ persistence

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(),
                "grid_shape": None if self.grid_shape is None else list(self.grid_shape),
                "points": int(self.coords.shape[0]), "signal_freqs": self.signal_freqs,
                "every": self.every, "at": sorted(self.at), "step_name": self.step_name,
                "num_pairs": {k: int(i.numel()) for k, (i, _) in self.pairs.items()},
                "notes": list(self.notes)}

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "arrays": dict(self.arrays)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))
        self._recorded = {int(r[self.step_name]) for r in self.history}
        self.arrays = dict(state.get("arrays", {}))

    def close(self) -> None:
        if self._files is not None:
            self._files.close()


def _is_fixed(encoding) -> bool:
    """Whether an encoding gives the same output every record: a module without trainable
    parameters (the package's encodings). Anything else is re-evaluated each record."""
    if isinstance(encoding, torch.nn.Module):
        return not any(p.requires_grad for p in encoding.parameters())
    return False
