"""RegionMonitor: region dynamics recorded from inside any training loop.

    monitor = RegionMonitor(coords, target=y, encoding=enc, every=25,
                            measurements=("regions", "hamming", "confusion"), out="runs/x")
    for step in range(steps):
        ...                      # the user's own forward, loss and optimiser step
        monitor(model, step)     # records when due; returns the record or None

The model is anything ``specbias_ext.relu_network`` describes. The monitor reads its weights
through that description (detached), evaluates it with the network forward on the model's
device and dtype, and never calls the model, so its parameters, gradients, train/eval mode and
the global RNG state are left as they were. The points the network sees are
``encoding(coords)`` (``encoding`` given), ``model.encode(coords)`` (a model with an ``encode``
method such as ``CoordinateMLP``) or ``coords`` themselves.

Each record is a dict of JSON-able scalars and short lists (``history``); bigger arrays (region
ids, per-pair values, histograms) go to ``arrays``. With ``out`` every record is written as it
is taken: ``records.jsonl`` (rewritten atomically, one record per line), ``arrays/<step>.npz``
and ``settings.json``, so a crashed run keeps every record taken; TensorBoard scalars are added
under ``out/tensorboard`` when ``torch.utils.tensorboard`` imports (``tensorboard=None``) or
when asked for (``True``). The definitions of the quantities are in docs/measurements.md.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .. import measure
from ..nets.encodings import Encoding
from ..data.grids import normalize_shape
from ..nets.network import ReluNetwork, relu_network
from ..runs.files import atomic_save_npz, atomic_write_bytes, atomic_write_json, to_jsonable
from ..data.samplers import PairSampling

Tensor = torch.Tensor

MEASUREMENTS = ("loss", "regions", "hamming", "confusion", "neurons", "grad_norms",
                "region_grads", "spectral")
NEEDS_FIT = ("loss", "confusion", "grad_norms", "region_grads", "spectral")
NEEDS_TARGET = NEEDS_FIT
NEEDS_GRID = ("hamming", "confusion", "spectral")


@dataclass
class MonitorConfig:
    """Which measurements a record takes and their settings.

    ``measurements``: any of "loss", "regions", "hamming", "confusion", "neurons",
    "grad_norms", "region_grads", "spectral". Loss and PSNR are recorded whenever the fit is
    evaluated ("loss" or any gradient or spectral measurement); a record of only pattern
    measurements ("regions", "hamming", "neurons") skips the forward pass.
    ``pairs``: the local/global pair settings (None: the paper's, shrunk where a small grid holds
    fewer pairs, ``PairSampling().fitted(grid_shape)``); ``seed``: their seed (drawn once, so every record
    uses the same pairs). ``num_bands``: radial bands of the 2D spectral residual.
    ``confusion_bins`` / ``coherence_bins``: histogram bins on [-1, 1] / [0, 1]. ``psnr_peak``:
    peak of PSNR = 10 log10(peak^2 / MSE), None = the target's max - min. ``save_region_maps`` /
    ``save_pair_values``: keep region-id maps / per-pair values among the arrays.
    """

    measurements: tuple = MEASUREMENTS
    pairs: Optional[PairSampling] = None
    seed: int = 0
    num_bands: int = 8
    confusion_bins: int = 40
    coherence_bins: int = 20
    psnr_peak: Optional[float] = None
    save_region_maps: bool = True
    save_pair_values: bool = True

    def __post_init__(self):
        if isinstance(self.measurements, str):
            self.measurements = (self.measurements,)
        self.measurements = tuple(self.measurements)
        unknown = [m for m in self.measurements if m not in MEASUREMENTS]
        if unknown:
            raise ValueError(f"measurements: unknown {unknown}; expected any of "
                             f"{list(MEASUREMENTS)}")
        if self.pairs is not None and not isinstance(self.pairs, PairSampling):
            raise ValueError(f"pairs: expected a PairSampling, got {type(self.pairs).__name__}")
        for name in ("confusion_bins", "coherence_bins", "num_bands"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        if self.psnr_peak is not None and not float(self.psnr_peak) > 0:
            raise ValueError(f"psnr_peak: expected a value > 0 or None, got {self.psnr_peak}")

    def wants(self, name: str) -> bool:
        return name in self.measurements

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measurements"] = list(self.measurements)
        return d


def infer_grid_shape(coords: Tensor) -> Optional[tuple[int, ...]]:
    """(N,) for 1D coordinates; (H, W) for 2D coordinates laid out as a row-major grid
    (``grid_coords``); None otherwise."""
    n, d = coords.shape
    if d == 1:
        return (n,)
    if d == 2 and n > 0:
        h, w = int(torch.unique(coords[:, 0]).numel()), int(torch.unique(coords[:, 1]).numel())
        if h * w == n and bool((coords[:w, 0] == coords[0, 0]).all()):
            return (h, w)
    return None


def _check_target(target: Tensor, n: int) -> Tensor:
    if not isinstance(target, Tensor):
        raise ValueError(f"target: expected a Tensor, got {type(target).__name__}")
    t = target.detach()
    if t.dim() == 1:
        t = t.unsqueeze(1)
    elif t.dim() == 3:
        t = t.reshape(-1, t.shape[2])
    if t.dim() != 2 or t.shape[0] != n:
        raise ValueError(f"target: expected [N], [N, C] or [H, W, C] with N = {n}, got "
                         f"{list(target.shape)}")
    if not t.dtype.is_floating_point or not bool(torch.isfinite(t).all()):
        raise ValueError("target: expected finite floating-point values")
    return t


class RegionMonitor:
    """Records the measurements of ``config`` (or ``measurements``) of a model on fixed points.

    ``coords [N, D]``: the points (a grid in row-major order for the pair and neighbour
    measurements; ``grid_shape`` is inferred from ``grid_coords``-style coordinates or given).
    ``target``: [N], [N, C] or [H, W, C], needed by the loss, confusion, gradient and spectral
    measurements. ``every``: record at steps 0, every, 2 every, ...; ``at``: extra steps
    (``every=None`` and no ``at``: only explicit ``record`` calls). ``signal_freqs``: integer
    frequencies of the 1D spectral residual. ``step_name``: the key of the step in each record.
    All inputs are checked here, before training starts.
    """

    def __init__(self, coords: Tensor, target: Optional[Tensor] = None, encoding=None, *,
                 every: Optional[int] = 25, at: Optional[Sequence[int]] = None,
                 measurements: Optional[Sequence[str]] = None,
                 config: Optional[MonitorConfig] = None,
                 grid_shape: Optional[Sequence[int]] = None,
                 signal_freqs: Optional[Sequence[int]] = None, out: Optional[str] = None,
                 tensorboard: Optional[bool] = None, step_name: str = "step"):
        if config is None:
            config = MonitorConfig() if measurements is None else \
                MonitorConfig(measurements=measurements)
        elif not isinstance(config, MonitorConfig):
            raise ValueError(f"config: expected a MonitorConfig, got {type(config).__name__}")
        elif measurements is not None:
            config = MonitorConfig(**{**config.__dict__, "measurements": measurements})
        self.config = cfg = config
        if not isinstance(coords, Tensor) or coords.dim() != 2:
            raise ValueError(f"coords: expected a Tensor [N, D], got "
                             f"{list(coords.shape) if isinstance(coords, Tensor) else coords}")
        if not coords.dtype.is_floating_point or not bool(torch.isfinite(coords).all()):
            raise ValueError("coords: expected finite floating-point coordinates")
        n = coords.shape[0]
        self.coords = coords.detach()
        if grid_shape is not None:
            self.grid_shape = normalize_shape(grid_shape, "grid_shape")
            if math.prod(self.grid_shape) != n:
                raise ValueError(f"grid_shape: {self.grid_shape} holds "
                                 f"{math.prod(self.grid_shape)} points, coords has {n} rows")
        else:
            self.grid_shape = infer_grid_shape(self.coords)
        self.encoding = encoding
        self.target = None if target is None else _check_target(target, n)
        missing = [m for m in cfg.measurements if m in NEEDS_TARGET and self.target is None]
        if missing:
            raise ValueError(f"target: required for the measurements {missing}")
        no_grid = [m for m in cfg.measurements if m in NEEDS_GRID and self.grid_shape is None]
        if no_grid:
            raise ValueError(f"grid_shape: the measurements {no_grid} need a 1D or 2D grid; pass "
                             "grid_shape or coordinates from grid_coords")
        self.signal_freqs = None if signal_freqs is None else [int(k) for k in signal_freqs]
        if cfg.wants("spectral"):
            self._check_spectral()
        self.every = None if every is None else int(every)
        if self.every is not None and self.every < 1:
            raise ValueError(f"every: expected an int >= 1 or None, got {every!r}")
        self.at = set(int(s) for s in (at or ()))
        self.step_name = step_name
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
        self._tb = None
        if out is not None:
            os.makedirs(os.path.join(out, "arrays"), exist_ok=True)
            atomic_write_json(os.path.join(out, "settings.json"), self.settings())
            self._tb = self._tensorboard(out, tensorboard)
        elif tensorboard:
            raise ValueError("tensorboard: needs out (the folder the event files go to)")

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

    @staticmethod
    def _tensorboard(out: str, wanted: Optional[bool]):
        if wanted is False:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            if wanted:
                raise ValueError("tensorboard: torch.utils.tensorboard does not import (install "
                                 "the tensorboard package)") from None
            return None
        return SummaryWriter(os.path.join(out, "tensorboard"))

    # ------------------------------------------------------------------ schedule

    def due(self, step: int) -> bool:
        """Whether ``step`` is scheduled and not recorded yet."""
        step = int(step)
        scheduled = step in self.at or (self.every is not None and step % self.every == 0)
        return scheduled and step not in self._recorded

    def __call__(self, model, step: int) -> Optional[dict[str, Any]]:
        """Record ``model`` at ``step`` if due; the record or None."""
        return self.record(model, step) if self.due(step) else None

    # ------------------------------------------------------------------ recording

    def _inputs(self, model, device, dtype) -> tuple[Tensor, Optional[Tensor]]:
        key = f"{device}/{dtype}"
        if self._cache.get("key") != key:
            self._cache = {"key": key,
                           "coords": self.coords.to(device=device, dtype=torch.float64),
                           "target": None if self.target is None
                           else self.target.to(device=device, dtype=dtype),
                           "pairs": {k: (i.to(device), j.to(device))
                                     for k, (i, j) in self.pairs.items()}}
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
            return cached[1], self._cache["target"]
        # The package's encodings are evaluated in float64 and cast (high PE levels need it);
        # anything else sees the coordinates in the network's dtype.
        if not isinstance(self.encoding if self.encoding is not None
                          else getattr(model, "encoding", None), Encoding):
            coords = coords.to(dtype)
        with torch.no_grad():
            x = (coords if encoder is None else encoder(coords)).detach().to(dtype)
        if fixed:                 # a fixed encoding is evaluated once per device/dtype
            self._cache["x"] = (owner, x)
        return x, self._cache["target"]

    def record(self, model, step: int) -> dict[str, Any]:
        """Measure ``model`` now (whatever the schedule) and keep the record."""
        start = time.perf_counter()
        net = relu_network(model).detach()
        x, y = self._inputs(model, net.device, net.dtype)
        rec = self.measure(net, x, y, int(step))
        rec["record_seconds"] = time.perf_counter() - start
        self.history.append(rec)
        self._recorded.add(int(step))
        self._write(rec)
        return rec

    def _key(self, name: str, step: int) -> str:
        return f"{name}_{self.step_name[0]}{int(step):06d}"

    def measure(self, net: ReluNetwork, x: Tensor, y: Optional[Tensor],
                step: int) -> dict[str, Any]:
        """One record of ``net`` on the encoded points ``x`` (target ``y``); arrays go to
        ``self.arrays``. Not added to the history (``record`` does that)."""
        cfg = self.config
        rec: dict[str, Any] = {self.step_name: int(step)}
        arrays: dict[str, np.ndarray] = {}
        with torch.no_grad():
            fit = grad_out = None
            if any(cfg.wants(m) for m in NEEDS_FIT):
                fit = measure.network_forward(net, x)
                if fit.shape != y.shape:
                    raise ValueError(f"target: has shape {list(y.shape)} but the model outputs "
                                     f"{list(fit.shape)}")
                mse = measure.mse(fit, y)
                peak = cfg.psnr_peak if cfg.psnr_peak is not None else measure.target_peak(y)
                rec["loss"], rec["psnr"] = mse, measure.psnr(mse, peak)
                grad_out = measure.mse_grad_out(fit, y)
            ctx = _Record(net, x, grad_out, fit, y)
            for name in (m for m in MEASUREMENTS if cfg.wants(m) and m != "loss"):
                t0 = time.perf_counter()
                getattr(self, f"_{name}")(ctx, rec, arrays)
                self.timings[name] = time.perf_counter() - t0
        self.arrays.update({self._key(k, step): v for k, v in arrays.items()})
        self._last_arrays = arrays
        return rec

    def _regions(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        st = ctx.regions(self.grid_shape)
        rec["regions"] = st.count
        rec["region_size_hist_log2"] = st.size_hist_log2
        rec["largest_region_frac"] = st.largest_frac
        if st.neighbor_boundary_frac is not None:
            rec["neighbor_boundary_frac"] = st.neighbor_boundary_frac
        if self.config.save_region_maps:
            ids = st.ids.cpu().numpy()
            arrays["region_ids"] = ids.reshape(self.grid_shape) if self.grid_shape else ids
            # the maps' colours: one pattern key per region (stable across records and runs)
            arrays["region_keys"] = measure.region_keys(ctx.patterns(), st.ids,
                                                        st.count).cpu().numpy()
        arrays["region_sizes"] = st.counts.cpu().numpy()

    def _all_pairs(self) -> tuple[Tensor, Tensor, list[tuple[str, slice]]]:
        """All pair kinds concatenated, so each op runs once per record."""
        if "all_pairs" in self._cache:
            return self._cache["all_pairs"]
        kinds, ii, jj, start = [], [], [], 0
        for kind, (i, j) in self._cache["pairs"].items():
            kinds.append((kind, slice(start, start + i.numel())))
            ii.append(i)
            jj.append(j)
            start += i.numel()
        self._cache["all_pairs"] = (torch.cat(ii), torch.cat(jj), kinds)
        return self._cache["all_pairs"]

    def _hamming(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        i, j, kinds = self._all_pairs()
        all_layers = measure.pair_hamming(ctx.patterns(), i, j, ctx.net)
        bits = sum(ctx.net.hidden_widths)
        for kind, sl in kinds:
            per_layer = all_layers[sl]
            total = per_layer.sum(dim=1)
            rec[f"hamming_{kind}"] = measure.summary(total)
            rec[f"hamming_{kind}_per_layer"] = per_layer.to(torch.float64).mean(0).cpu().tolist()
            arrays[f"hamming_{kind}_hist"] = torch.bincount(total.cpu(), minlength=bits + 1).numpy()
            if self.config.save_pair_values:
                arrays[f"hamming_{kind}"] = per_layer.cpu().numpy().astype(np.int32)

    def _confusion(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        i, j, kinds = self._all_pairs()
        if ctx.has_sq_norms() or self.config.wants("grad_norms"):
            all_conf = measure.confusion_pairs(ctx.x, ctx.net, ctx.grad_out, i, j,
                                               norms=ctx.norms())
        else:
            if "points" not in self._cache:
                self._cache["points"] = torch.unique(torch.cat([i, j]))
            dots, norms = measure.pair_dots_and_norms(ctx.x, ctx.net, ctx.grad_out, i, j,
                                                      points=self._cache["points"])
            all_conf = measure.cosine(dots, norms[i], norms[j])
        for kind, sl in kinds:
            conf = all_conf[sl]
            stats = measure.summary(conf)
            stats["frac_negative"] = measure.summaries.fraction(conf < 0)
            stats["frac_abs_gt_0.9"] = measure.summaries.fraction(conf.abs() > 0.9)
            rec[f"confusion_{kind}"] = stats
            rec[f"confusion_{kind}_hist"] = measure.histogram(conf, self.config.confusion_bins,
                                                              -1.0, 1.0)
            if self.config.save_pair_values:
                arrays[f"confusion_{kind}"] = conf.to(torch.float32).cpu().numpy()

    def _neurons(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        act = measure.neuron_activity(ctx.patterns(), ctx.net)
        rec["dead_neurons"], rec["dead_neurons_per_layer"] = act.dead, act.dead_per_layer
        rec["always_on_neurons"] = act.always_on
        rec["always_on_neurons_per_layer"] = act.always_on_per_layer
        arrays["neuron_on_counts"] = act.on_counts.cpu().numpy()

    def _grad_norms(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        st = measure.grad_norm_stats(ctx.sq_norms())
        rec["grad_norm"], rec["grad_norm_sq_layer_share"] = st.norm, st.layer_share

    def _region_grads(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        regions = ctx.regions(self.grid_shape)
        grads = measure.region_grads(ctx.x, ctx.net, ctx.grad_out, regions.ids, regions.count)
        st = measure.coherence_stats(grads, regions.counts, self.config.coherence_bins)
        rec["region_grad_norm"] = st.norm_of_sum
        rec["region_coherence_multi"] = st.multi
        rec["region_coherence_weighted"] = st.weighted
        rec["region_coherence_hist"] = st.hist
        arrays["region_coherence"] = grads.coherence.cpu().numpy()

    def _spectral(self, ctx: "_Record", rec: dict, arrays: dict) -> None:
        fit, target = ctx.fit, ctx.target
        if len(self.grid_shape) == 1:
            per_channel = torch.stack([
                measure.spectral_residual_1d(fit[:, c], target[:, c], self.signal_freqs)
                for c in range(target.shape[1])])
            rec["spectral_freqs"] = list(self.signal_freqs)
            rec["spectral_residual"] = per_channel.mean(0).cpu().tolist()
        else:
            h, w = self.grid_shape
            rec["band_residual"] = measure.radial_band_residual_2d(
                fit.reshape(h, w, -1), target.reshape(h, w, -1), self.config.num_bands
            ).cpu().tolist()

    # ------------------------------------------------------------------ reading back

    def series(self, key: str) -> tuple[list[int], list[Any]]:
        """``(steps, values)`` of one recorded quantity over the history; nested keys with dots,
        e.g. ``series("hamming_local.mean")`` or ``series("regions")``."""
        steps, values = [], []
        for rec in self.history:
            value: Any = rec
            for part in key.split("."):
                if not isinstance(value, dict) or part not in value:
                    raise KeyError(f"key: {key!r} is not in the record of {self.step_name} "
                                   f"{rec[self.step_name]}")
                value = value[part]
            steps.append(rec[self.step_name])
            values.append(value)
        return steps, values

    def scalar_keys(self) -> list[str]:
        """The dotted keys of the numeric scalars of the last record."""
        return sorted(_scalars(self.history[-1]) if self.history else {})

    def plot(self, keys: Optional[Sequence[str]] = None, path: Optional[str] = None):
        """A figure with one panel per series (default: regions, mean local/global Hamming and
        confusion, loss, whichever were recorded); saved to ``path`` (or ``out/monitor.png``
        when the monitor writes a folder)."""
        from matplotlib.figure import Figure

        if keys is None:
            present = set(self.scalar_keys())
            keys = [k for k in ("regions", "hamming_local.mean", "hamming_global.mean",
                                "confusion_local.mean", "confusion_global.mean", "loss")
                    if k in present]
        keys = list(keys)
        if not keys:
            raise ValueError("keys: nothing recorded yet to plot")
        fig = Figure(figsize=(3.2 * len(keys), 2.8), layout="constrained")
        axes = fig.subplots(1, len(keys), squeeze=False)[0]
        for ax, k in zip(axes, keys):
            steps, values = self.series(k)
            ax.plot(steps, [np.nan if v is None else v for v in values], marker=".")
            ax.set_xlabel(self.step_name)
            ax.set_title(k, fontsize=9)
            if k in ("regions", "loss"):
                ax.set_yscale("log")
        if path is None and self.out is not None:
            path = os.path.join(self.out, "monitor.png")
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    # ------------------------------------------------------------------ persistence

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(),
                "grid_shape": None if self.grid_shape is None else list(self.grid_shape),
                "signal_freqs": self.signal_freqs, "every": self.every, "at": sorted(self.at),
                "num_pairs": {k: int(i.numel()) for k, (i, _) in self.pairs.items()}}

    def _write(self, rec: dict) -> None:
        if self.out is None:
            return
        step = rec[self.step_name]
        atomic_save_npz(os.path.join(self.out, "arrays", f"{self.step_name}_{step:06d}.npz"),
                        **self._last_arrays)
        lines = "".join(json.dumps(to_jsonable(r)) + "\n" for r in self.history)
        atomic_write_bytes(os.path.join(self.out, "records.jsonl"), lines.encode())
        if self._tb is not None:
            for k, v in _scalars(rec).items():
                self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "arrays": dict(self.arrays)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))
        self._recorded = {int(r[self.step_name]) for r in self.history}
        self.arrays = dict(state.get("arrays", {}))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _is_fixed(encoding) -> bool:
    """Whether an encoding gives the same output every record: a module without trainable
    parameters (the package's encodings). Anything else is re-evaluated each record."""
    if isinstance(encoding, torch.nn.Module):
        return not any(p.requires_grad for p in encoding.parameters())
    return False


def read_records(out: str) -> list[dict[str, Any]]:
    """The records a monitor wrote to ``out`` (records.jsonl)."""
    with open(os.path.join(out, "records.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _scalars(rec: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in rec.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_scalars(v, name + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[name] = float(v)
    return out


@dataclass
class _Record:
    """What one record shares between its measurements (each computed at most once)."""

    net: ReluNetwork
    x: Tensor
    grad_out: Optional[Tensor]
    fit: Optional[Tensor]
    target: Optional[Tensor]
    _patterns: Optional[Tensor] = None
    _regions: Optional[measure.RegionStats] = None
    _sq_norms: Optional[Tensor] = None

    def patterns(self) -> Tensor:
        if self._patterns is None:
            self._patterns = measure.patterns(self.x, self.net)
        return self._patterns

    def regions(self, grid_shape) -> measure.RegionStats:
        if self._regions is None:
            self._regions = measure.region_stats(self.patterns(), grid_shape)
        return self._regions

    def has_sq_norms(self) -> bool:
        return self._sq_norms is not None

    def sq_norms(self) -> Tensor:
        if self._sq_norms is None:
            self._sq_norms = measure.layer_sq_norms(self.x, self.net, self.grad_out)
        return self._sq_norms

    def norms(self) -> Tensor:
        return self.sq_norms().sum(dim=1).clamp_min(0).sqrt()
