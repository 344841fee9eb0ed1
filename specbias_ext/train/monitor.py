"""RegionMonitor: region dynamics recorded from inside any training loop.

    monitor = RegionMonitor(coords, target=y, encoding=enc, every=25,
                            measurements=("regions", "hamming", "confusion"), out="runs/x")
    for step in range(steps):
        ...                      # the user's own forward, loss and optimiser step
        monitor(model, step)     # records when due; returns the record or None
    RegionMonitor.load("runs/x").plot()     # later, without the model

The model is the user's whole model, coordinates in, output out, as ``specbias_ext.split_model``
reads it: its encoding (whatever its forward computes from the coordinates before the first
Linear: a ``CoordinateMLP``'s encoding, Fourier features, a hash grid, a slice of the input) is
applied to ``coords``, and its ReLU network is measured on the result. ``encoding`` (a module,
a callable or a spec string such as ``'pe:4'``) is only for a network that takes encoded
points without computing the encoding itself. The model is read once per model object
(``monitor_models``; its forward is traced on example points under a forked RNG), its weights
at every record (detached), and the network is evaluated with the network forward on the
model's device and dtype, so its parameters, gradients, train/eval mode and the global RNG
state are left as they were. An encoding with trainable parameters (a hash grid) is evaluated
again at every record; one without (the package's encodings, a matrix in a buffer) once.

This module holds the schedule and the calls; what each measurement records is in
``measurements``, the files in ``record_files``, reading back in ``records``. The definitions of
the quantities are in docs/measurements.md.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .. import measure
from ..data.samplers import PairSampling
from ..nets.encodings import Encoding
from ..nets.network import ReluNetwork
from ..runs.files import PathLike
from . import monitor_inputs as inputs
from .measurements import (MEASUREMENTS, NEEDS_GRID, NEEDS_TARGET, DivergedError, MonitorConfig,
                           PairSet, RecordInputs, take_record)
from .monitor_models import ModelReader
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
    needed by the loss, confusion, gradient and spectral measurements (left out of the default
    set, with a note, when there is none). ``every``: record at
    steps 0, every, 2 every, ...; ``at``: extra steps (``every=None`` and no ``at``: only
    explicit ``record`` calls). ``signal_freqs``: integer frequencies of the 1D spectral
    residual. ``step_name``: the key of the step in each record.

    ``output``: for a model with several heads (NeRF's density and colour), the name of the
    Linear to read as the head (``split_model``'s ``output=``).

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
                 signal_freqs: Optional[Sequence[int]] = None, output: Optional[str] = None,
                 out: Optional[PathLike] = None,
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
        self._reader = ModelReader(self.coords.shape[1], inputs.check_output(output))
        n = self.coords.shape[0]
        self.grid_shape = inputs.grid_of(self.coords, grid_shape)
        self.config = cfg = inputs.resolve_lc_radius(self._config(config, measurements),
                                                     self.grid_shape, self.coords)
        self.target = None if target is None else inputs.check_target(target, n)
        missing = [m for m in cfg.measurements if m in NEEDS_TARGET and self.target is None]
        if missing and config is None and measurements is None:
            # The default set without a target: what the network alone gives.
            self.config = cfg = cfg.without(missing)
            self.notes.append(f"no target: {missing} not recorded (they compare the fit with "
                              "a target)")
        elif missing:
            raise ValueError(f"target: the measurements {missing} compare the fit with a "
                             "target; pass target=, or leave them out of measurements")
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

    def _inputs(self, encoding, device, dtype) -> tuple[Tensor, Optional[Tensor]]:
        """``(x, target)``: the network's input on the record's coordinates (``encoding`` of
        them, or the coordinates themselves for None) and the target."""
        key = f"{device}/{dtype}"
        if self._cache.get("key") != key:
            self._cache = {"key": key,
                           "coords": self.coords.to(device=device, dtype=torch.float64),
                           "target": None if self.target is None
                           else self.target.to(device=device, dtype=dtype),
                           "pairs": PairSet(self.pairs, device) if self.pairs else None}
        coords = self._cache["coords"]
        cached = self._cache.get("x")
        if cached is not None and cached[0] is encoding:
            return cached[1], self._cache["target"]
        # The package's encodings are evaluated in float64 and cast (high PE levels need it);
        # anything else sees the coordinates in the network's dtype.
        if not isinstance(encoding, Encoding):
            coords = coords.to(dtype)
        with torch.no_grad():
            x = (coords if encoding is None else encoding(coords)).detach().to(dtype)
        if _is_fixed(encoding):   # a fixed encoding is evaluated once per device/dtype
            self._cache["x"] = (encoding, x)
        return x, self._cache["target"]

    def _read(self, model) -> tuple:
        """``(net, encoding)``: the model's network with its current weights, and the map from
        coordinates to its input (None: it reads the coordinates)."""
        if isinstance(model, ReluNetwork):     # a description: encoding= maps coords to x
            return model.detach(), self.encoding
        if self.encoding is not None:
            reading = self._reader.read(model, coordinates=False)
            if reading.encoding is not None and not isinstance(reading.encoding, Encoding):
                raise TypeError(
                    f"encoding: {type(model).__name__}.forward computes its own encoding of the "
                    "coordinates before its first Linear; leave encoding= out (the monitor "
                    "records the whole model from the coordinates), or record the network "
                    "alone")
            return reading.network(model), self.encoding
        reading = self._reader.read(model, coordinates=True)
        return reading.network(model), reading.encoding

    def record(self, model, step: int) -> dict[str, Any]:
        """Measure ``model`` now (whatever the schedule) and keep the record.

        A model whose weights or outputs are NaN/inf (training diverged) raises
        ``DivergedError`` and records nothing; the records taken so far stay in ``out``.
        """
        step = inputs.check_step(step, self.step_name)
        start = time.perf_counter()
        net, encoding = self._read(model)
        try:
            inputs.check_network(net, self.step_name, step)
            x, y = self._inputs(encoding, net.device, net.dtype)
            inputs.check_width(net, x, encoding)
            rec, arrays = take_record(
                RecordInputs(net, x, self.config, self.grid_shape, self._cache["pairs"],
                             self.signal_freqs, target=y, coords=self._cache["coords"],
                             encoder=encoding), self.step_name, step, self.timings)
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
                "output": self._reader.output,
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
    """Whether an encoding gives the same output every record: none, or a module without
    trainable parameters (the package's encodings, a Fourier-feature matrix in a buffer).
    Anything else (a hash grid's table, a function) is re-evaluated each record."""
    if encoding is None:
        return True
    if isinstance(encoding, torch.nn.Module):
        return not any(p.requires_grad for p in encoding.parameters())
    return False
