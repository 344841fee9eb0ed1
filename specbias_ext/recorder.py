"""Measurements of region dynamics and frequency-wise convergence at chosen training epochs.

``Recorder.record(model, epoch)`` evaluates the model on the whole grid and returns one dict of
JSON-able scalars and short lists (appended to ``.history``); bigger arrays (region-id maps,
per-pair Hamming distances and confusions, histograms) go to ``.arrays`` under keys
``<name>_e<epoch>``. Everything is computed with the fused specbias ops on the model's device:

- region count and region-size histogram (activation_patterns, region_ids);
- local and global Hamming distance, total and per hidden layer (hamming_pairs), on the pairs of
  the seeded samplers: 1D windows / far-apart ends, 2D patches / opposite corners;
- local and global gradient confusion c_ij = <g_i, g_j> / (||g_i|| ||g_j||) (0 if a norm is 0)
  on the same pairs (grad_dots, per_example_grad_norms);
- dead and always-on neurons on the grid (bit_counts);
- per-example gradient-norm statistics (per_example_grad_norms);
- region gradient norms ||sum_{i in S_r} g_i|| and coherence ||sum g_i|| / sum ||g_i||
  (region_grad_norms);
- spectral residual (1D at the signal's frequencies, 2D in radial bands), loss and PSNR.

The per-example loss is l_i = mean_c (f_ic - y_ic)^2 (the training loss is mean_i l_i), so the
gradient fed to the gradient ops is grad_out = dl_i/df = 2 (f - y) / out_dim of the current fit.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch

from . import _fallback, samplers
from .grids import normalize_shape
from .mlp import hidden_widths, layer_bit_ranges, mlp_params
from .ops import activation_patterns
from .spectral import radial_band_index, radial_band_residual_2d, spectral_residual_1d

Tensor = torch.Tensor

ALL_MEASUREMENTS = ("regions", "hamming", "confusion", "neurons", "grad_norms", "region_grads",
                    "spectral")


@dataclass
class RecorderConfig:
    """Which measurements to take and how the pairs are sampled.

    ``measurements``: any of "regions", "hamming", "confusion", "neurons", "grad_norms",
    "region_grads", "spectral" (loss and PSNR are always recorded).
    1D pairs: ``num_windows`` windows of ``window`` samples with ``pairs_per_window`` pairs each
    (local), ``global_pairs`` pairs between the first and last ``global_frac`` of the grid.
    2D pairs: ``num_patches`` patches of ``patch`` x ``patch`` with ``pairs_per_patch`` pairs
    (local), ``corner_pairs`` pairs between opposite ``corner_frac`` corners (global).
    ``num_bands``: radial bands of the 2D spectral residual. ``confusion_bins``/``coherence_bins``:
    histogram bins on [-1, 1] / [0, 1]. ``psnr_peak``: peak of PSNR = 10 log10(peak^2 / MSE);
    None uses the target's range max - min. ``save_region_maps``: keep region-id maps in arrays.
    ``pair_dots``: how the confusion's gradient inner products are computed ("auto", "op",
    "shared"; see Recorder._pair_dots) - the numbers are the same up to rounding.
    """

    measurements: tuple[str, ...] = ALL_MEASUREMENTS
    seed: int = 0
    num_windows: int = 25
    window: int = 50
    pairs_per_window: int = 250
    global_pairs: int = 5000
    global_frac: float = 0.4
    num_patches: int = 25
    patch: int = 8
    pairs_per_patch: int = 250
    corner_pairs: int = 5000
    corner_frac: float = 0.25
    num_bands: int = 8
    confusion_bins: int = 40
    coherence_bins: int = 20
    psnr_peak: Optional[float] = None
    save_region_maps: bool = True
    save_pair_values: bool = True
    pair_dots: str = "auto"

    def __post_init__(self):
        if isinstance(self.measurements, str):
            self.measurements = (self.measurements,)
        self.measurements = tuple(self.measurements)
        unknown = [m for m in self.measurements if m not in ALL_MEASUREMENTS]
        if unknown:
            raise ValueError(f"measurements: unknown {unknown}; expected any of "
                             f"{list(ALL_MEASUREMENTS)}")
        for name in ("confusion_bins", "coherence_bins", "num_bands"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        if self.pair_dots not in ("auto", "op", "shared"):
            raise ValueError(f"pair_dots: expected 'auto', 'op' or 'shared', got "
                             f"{self.pair_dots!r}")
        if self.psnr_peak is not None and not float(self.psnr_peak) > 0:
            raise ValueError(f"psnr_peak: expected a value > 0 or None, got {self.psnr_peak}")

    def wants(self, name: str) -> bool:
        return name in self.measurements

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measurements"] = list(self.measurements)
        return d


def _summary(values: Tensor) -> dict[str, Optional[float]]:
    """mean, std, min, 5/50/95 % quantiles and max of a 1D tensor (None when empty)."""
    keys = ("mean", "std", "min", "q05", "median", "q95", "max")
    if values.numel() == 0:
        return {k: None for k in keys}
    v = values.detach().to(torch.float64).flatten()
    q = torch.quantile(v, torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64, device=v.device))
    stats = torch.stack([v.mean(), v.std(unbiased=False), v.min(), q[0], q[1], q[2], v.max()])
    return dict(zip(keys, stats.cpu().tolist()))


def _histogram(values: Tensor, bins: int, lo: float, hi: float) -> list[int]:
    v = values.detach().to(torch.float64).flatten().cpu()
    if v.numel() == 0:
        return [0] * bins
    return torch.histc(v.clamp(lo, hi), bins=bins, min=lo, max=hi).to(torch.int64).tolist()


def _log2_size_histogram(counts: Tensor) -> list[int]:
    """Regions per size class [2^b, 2^(b+1)), b = 0, 1, ..."""
    if counts.numel() == 0:
        return []
    classes = torch.floor(torch.log2(counts.to(torch.float64))).to(torch.int64).cpu()
    return torch.bincount(classes).tolist()


class Recorder:
    """Records the measurements of ``config`` for a model on a fixed grid.

    ``coords [N, D]``: the grid (grid_coords convention); ``grid_shape``: (N,) or (H, W) with
    prod = N; ``target``: [N], [N, C] or [H, W, C]; ``signal_freqs``: integer frequencies of the
    1D spectral residual (required for it on 1D grids). The pairs are sampled once here (seeded by
    ``config.seed``), so every record of a run uses the same pairs. All inputs are checked here,
    before any training starts.
    """

    def __init__(self, coords: Tensor, grid_shape: Sequence[int], target: Tensor,
                 config: Optional[RecorderConfig] = None,
                 signal_freqs: Optional[Sequence[int]] = None):
        self.config = config if config is not None else RecorderConfig()
        if not isinstance(self.config, RecorderConfig):
            raise ValueError(f"config: expected a RecorderConfig, got "
                             f"{type(self.config).__name__}")
        self.grid_shape = normalize_shape(grid_shape, "grid_shape")
        n = math.prod(self.grid_shape)
        if not isinstance(coords, Tensor) or coords.dim() != 2 or coords.shape[0] != n:
            raise ValueError(f"coords: expected shape [{n}, D] for grid_shape {self.grid_shape}, "
                             f"got {list(coords.shape) if isinstance(coords, Tensor) else coords}")
        if not coords.dtype.is_floating_point or not bool(torch.isfinite(coords).all()):
            raise ValueError("coords: expected finite floating-point coordinates")
        self.coords = coords.detach()
        self.target = self._check_target(target, n)
        self.signal_freqs = None if signal_freqs is None else [int(k) for k in signal_freqs]
        cfg = self.config
        if cfg.wants("spectral") and len(self.grid_shape) == 1:
            if self.signal_freqs is None:
                raise ValueError("signal_freqs: required for the 1D spectral residual (or leave "
                                 "'spectral' out of RecorderConfig.measurements)")
            spectral_residual_1d(self.target[:, 0], self.target[:, 0], self.signal_freqs)
        if cfg.wants("spectral") and len(self.grid_shape) == 2:
            h, w = self.grid_shape
            bands = radial_band_index((h, w), cfg.num_bands).flatten()
            if bool((torch.bincount(bands, minlength=cfg.num_bands) == 0).any()):
                raise ValueError(f"num_bands: {cfg.num_bands} bands leave a band without DFT "
                                 f"bins on a {h}x{w} grid")
        self.pairs: dict[str, tuple[Tensor, Tensor]] = {}
        if cfg.wants("hamming") or cfg.wants("confusion"):
            self.pairs = self._sample_pairs()
        self.history: list[dict[str, Any]] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.timings: dict[str, float] = {}
        self.pair_dots_route: Optional[str] = None
        self._device_cache: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ setup

    @staticmethod
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

    def _sample_pairs(self) -> dict[str, tuple[Tensor, Tensor]]:
        cfg = self.config
        if len(self.grid_shape) == 1:
            (n,) = self.grid_shape
            return {
                "local": samplers.local_pairs_1d(n, cfg.num_windows, cfg.window,
                                                 cfg.pairs_per_window, seed=cfg.seed),
                "global": samplers.global_pairs_1d(n, cfg.global_pairs, cfg.global_frac,
                                                   seed=cfg.seed + 1),
            }
        return {
            "local": samplers.local_pairs_2d(self.grid_shape, cfg.num_patches, cfg.patch,
                                             cfg.pairs_per_patch, seed=cfg.seed),
            "global": samplers.corner_pairs_2d(self.grid_shape, cfg.corner_pairs, cfg.corner_frac,
                                               seed=cfg.seed + 1),
        }

    def _on(self, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
        key = f"{device}/{dtype}"
        if key not in self._device_cache:
            self._device_cache = {key: {
                "coords": self.coords.to(device=device, dtype=dtype),
                "target": self.target.to(device=device, dtype=dtype),
                "pairs": {k: (i.to(device), j.to(device)) for k, (i, j) in self.pairs.items()},
            }}
        return self._device_cache[key]

    # ------------------------------------------------------------------ recording

    def record(self, model: torch.nn.Module, epoch: int) -> dict[str, Any]:
        """Measure ``model`` (a CoordinateMLP or anything with encode/mlp_params) now."""
        start = time.perf_counter()
        weights, biases = mlp_params(model)
        weights = [w.detach() for w in weights]
        biases = [b.detach() for b in biases]
        data = self._on(weights[0].device, weights[0].dtype)
        cfg = self.config
        rec: dict[str, Any] = {"epoch": int(epoch)}
        with torch.no_grad():
            x = model.encode(data["coords"]) if hasattr(model, "encode") else data["coords"]
            fit = model.mlp(x) if hasattr(model, "mlp") else model(data["coords"])
            y = data["target"]
            if fit.shape != y.shape:
                raise ValueError(f"target: has shape {list(y.shape)} but the model outputs "
                                 f"{list(fit.shape)}")
            err = fit - y
            mse = float(err.square().mean())
            peak = cfg.psnr_peak if cfg.psnr_peak is not None else float(y.max() - y.min())
            rec["loss"] = mse
            rec["psnr"] = 10 * math.log10(peak ** 2 / mse) if mse > 0 and peak > 0 else None
            grad_out = 2.0 * err / err.shape[1]
            ctx = _Context(x, weights, biases, grad_out, data, epoch, fit)
            if cfg.wants("regions") or cfg.wants("hamming") or cfg.wants("neurons") \
                    or cfg.wants("region_grads"):
                ctx.patterns = activation_patterns(x, weights, biases)
            if cfg.wants("regions") or cfg.wants("region_grads"):
                ctx.ids, ctx.counts = _fallback.call("region_ids", ctx.patterns)
            for name, step in (("regions", self._regions), ("hamming", self._hamming),
                               ("confusion", self._confusion), ("neurons", self._neurons),
                               ("grad_norms", self._grad_norms),
                               ("region_grads", self._region_grads),
                               ("spectral", self._spectral)):
                if cfg.wants(name):
                    t0 = time.perf_counter()
                    step(ctx, rec)
                    self.timings[name] = time.perf_counter() - t0
        rec["record_seconds"] = time.perf_counter() - start
        self.history.append(rec)
        return rec

    def _key(self, name: str, epoch: int) -> str:
        return f"{name}_e{int(epoch):06d}"

    def _regions(self, ctx: "_Context", rec: dict) -> None:
        counts = ctx.counts
        rec["regions"] = int(counts.numel())
        rec["region_size_hist_log2"] = _log2_size_histogram(counts)
        rec["largest_region_frac"] = (float(counts.max()) / ctx.x.shape[0]
                                      if counts.numel() else None)
        neighbors = _fallback.call("hamming_neighbors", ctx.patterns, list(self.grid_shape))
        changes = torch.cat([d.flatten() for d in neighbors])
        rec["neighbor_boundary_frac"] = float((changes > 0).to(torch.float64).mean()) \
            if changes.numel() else None
        if self.config.save_region_maps:
            self.arrays[self._key("region_ids", ctx.epoch)] = \
                ctx.ids.reshape(self.grid_shape).cpu().numpy()
        self.arrays[self._key("region_sizes", ctx.epoch)] = counts.cpu().numpy()

    def _all_pairs(self, ctx: "_Context") -> tuple[Tensor, Tensor, list[tuple[str, slice]]]:
        """All pair kinds concatenated, so each op runs once per record."""
        kinds, ii, jj, start = [], [], [], 0
        for kind, (i, j) in ctx.data["pairs"].items():
            kinds.append((kind, slice(start, start + i.numel())))
            ii.append(i)
            jj.append(j)
            start += i.numel()
        return torch.cat(ii), torch.cat(jj), kinds

    def _hamming(self, ctx: "_Context", rec: dict) -> None:
        bounds = [0] + [end for _, end in layer_bit_ranges(ctx.weights)]
        i, j, kinds = self._all_pairs(ctx)
        all_layers = _fallback.call("hamming_pairs", ctx.patterns, i, j, bounds)
        for kind, sl in kinds:
            per_layer = all_layers[sl]
            total = per_layer.sum(dim=1)
            rec[f"hamming_{kind}"] = _summary(total)
            rec[f"hamming_{kind}_per_layer"] = per_layer.to(torch.float64).mean(0).cpu().tolist()
            self.arrays[self._key(f"hamming_{kind}_hist", ctx.epoch)] = torch.bincount(
                total.cpu(), minlength=bounds[-1] + 1).numpy()
            if self.config.save_pair_values:
                self.arrays[self._key(f"hamming_{kind}", ctx.epoch)] = \
                    per_layer.cpu().numpy().astype(np.int32)

    def _pair_dots(self, ctx: "_Context", i: Tensor, j: Tensor) -> Tensor:
        """<g_i, g_j> by the route of ``config.pair_dots``.

        "op" calls the grad_dots op, whose kernel computes the features of both ends of every
        pair (2P forward/backward rows). "shared" computes them once per distinct point and takes
        the pair products as sampled dense-dense products (specbias_ext._fallback.grad_dots):
        the same formula, far cheaper when pairs share points (the paper's 11250 pairs touch
        ~1800 of 2048 points). "auto" takes "shared" when 2P > 1.5 x the distinct points.
        """
        route = self.config.pair_dots
        if route == "auto":
            distinct = int(torch.unique(torch.cat([i, j])).numel())
            route = "shared" if 2 * i.numel() > 1.5 * distinct else "op"
        self.pair_dots_route = route
        if route == "shared":
            return _fallback.grad_dots(ctx.x, ctx.weights, ctx.biases, ctx.grad_out, i, j)
        return _fallback.call("grad_dots", ctx.x, ctx.weights, ctx.biases, ctx.grad_out, i, j)

    def _confusion(self, ctx: "_Context", rec: dict) -> None:
        i, j, kinds = self._all_pairs(ctx)
        if ctx.has_grad_norms() or self.config.wants("grad_norms"):
            norms = ctx.grad_norms().sum(dim=1).clamp_min(0).sqrt()
            dots = self._pair_dots(ctx, i, j)
        else:
            # ||g_u||^2 = <g_u, g_u>: the self-pairs of the points involved ride along in the
            # same call instead of a separate pass over the whole grid.
            points = torch.unique(torch.cat([i, j]))
            both = self._pair_dots(ctx, torch.cat([i, points]), torch.cat([j, points]))
            dots = both[:i.numel()]
            norms = ctx.x.new_zeros(ctx.x.shape[0])
            norms[points] = both[i.numel():].clamp_min(0).sqrt()
        bins = self.config.confusion_bins
        denom = norms[i] * norms[j]
        all_conf = torch.where(denom > 0, dots / torch.where(denom > 0, denom, 1),
                               torch.zeros_like(dots)).clamp(-1, 1)
        for kind, sl in kinds:
            conf = all_conf[sl]
            stats = _summary(conf)
            stats["frac_negative"] = float((conf < 0).to(torch.float64).mean()) \
                if conf.numel() else None
            stats["frac_abs_gt_0.9"] = float((conf.abs() > 0.9).to(torch.float64).mean()) \
                if conf.numel() else None
            rec[f"confusion_{kind}"] = stats
            rec[f"confusion_{kind}_hist"] = _histogram(conf, bins, -1.0, 1.0)
            if self.config.save_pair_values:
                self.arrays[self._key(f"confusion_{kind}", ctx.epoch)] = \
                    conf.to(torch.float32).cpu().numpy()

    def _neurons(self, ctx: "_Context", rec: dict) -> None:
        n = ctx.x.shape[0]
        counts = _fallback.call("bit_counts", ctx.patterns, sum(hidden_widths(ctx.weights)))
        dead_l, on_l = [], []
        for start, end in layer_bit_ranges(ctx.weights):
            dead_l.append(int((counts[start:end] == 0).sum()))
            on_l.append(int((counts[start:end] == n).sum()))
        rec["dead_neurons"], rec["dead_neurons_per_layer"] = sum(dead_l), dead_l
        rec["always_on_neurons"], rec["always_on_neurons_per_layer"] = sum(on_l), on_l
        self.arrays[self._key("neuron_on_counts", ctx.epoch)] = counts.cpu().numpy()

    def _grad_norms(self, ctx: "_Context", rec: dict) -> None:
        sq = ctx.grad_norms()
        rec["grad_norm"] = _summary(sq.sum(dim=1).clamp_min(0).sqrt())
        total = float(sq.sum())
        rec["grad_norm_sq_layer_share"] = (sq.sum(dim=0) / total).cpu().tolist() \
            if total > 0 else [None] * sq.shape[1]

    def _region_grads(self, ctx: "_Context", rec: dict) -> None:
        num_regions = int(ctx.counts.numel())
        norm_of_sum, sum_of_norms = _fallback.call(
            "region_grad_norms", ctx.x, ctx.weights, ctx.biases, ctx.grad_out, ctx.ids,
            num_regions)
        valid = sum_of_norms > 0
        coherence = torch.where(valid, norm_of_sum / torch.where(valid, sum_of_norms, 1),
                                torch.full_like(norm_of_sum, float("nan"))).clamp(max=1.0)
        multi = valid & (ctx.counts > 1)  # a single-member region is trivially coherent
        weights = ctx.counts.to(coherence.dtype)
        rec["region_grad_norm"] = _summary(norm_of_sum)
        rec["region_coherence_multi"] = _summary(coherence[multi])
        rec["region_coherence_weighted"] = float((coherence[valid] * weights[valid]).sum()
                                                 / weights[valid].sum()) \
            if bool(valid.any()) else None
        rec["region_coherence_hist"] = _histogram(coherence[multi], self.config.coherence_bins,
                                                  0.0, 1.0)
        self.arrays[self._key("region_coherence", ctx.epoch)] = coherence.cpu().numpy()

    def _spectral(self, ctx: "_Context", rec: dict) -> None:
        fit = ctx.fit
        target = ctx.data["target"]
        if len(self.grid_shape) == 1:
            per_channel = torch.stack([spectral_residual_1d(fit[:, c], target[:, c],
                                                            self.signal_freqs)
                                       for c in range(target.shape[1])])
            rec["spectral_freqs"] = list(self.signal_freqs)
            rec["spectral_residual"] = per_channel.mean(0).cpu().tolist()
        else:
            h, w = self.grid_shape
            rec["band_residual"] = radial_band_residual_2d(
                fit.reshape(h, w, -1), target.reshape(h, w, -1), self.config.num_bands
            ).cpu().tolist()

    def series(self, key: str) -> tuple[list[int], list[Any]]:
        """``(epochs, values)`` of one recorded quantity over the history; nested keys with dots,
        e.g. ``series("hamming_local.mean")`` or ``series("regions")``."""
        epochs, values = [], []
        for rec in self.history:
            value: Any = rec
            for part in key.split("."):
                if not isinstance(value, dict) or part not in value:
                    raise KeyError(f"key: {key!r} is not in the record of epoch {rec['epoch']}")
                value = value[part]
            epochs.append(rec["epoch"])
            values.append(value)
        return epochs, values

    # ------------------------------------------------------------------ persistence

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "grid_shape": list(self.grid_shape),
                "signal_freqs": self.signal_freqs,
                "num_pairs": {k: int(i.numel()) for k, (i, _) in self.pairs.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "arrays": dict(self.arrays)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state.get("history", []))
        self.arrays = dict(state.get("arrays", {}))


@dataclass
class _Context:
    """What one record shares between its measurements (computed at most once)."""

    x: Tensor
    weights: list
    biases: list
    grad_out: Tensor
    data: dict
    epoch: int
    fit: Tensor
    patterns: Optional[Tensor] = None
    ids: Optional[Tensor] = None
    counts: Optional[Tensor] = None
    _grad_norms: Optional[Tensor] = field(default=None, repr=False)

    def has_grad_norms(self) -> bool:
        return self._grad_norms is not None

    def grad_norms(self) -> Tensor:
        if self._grad_norms is None:
            self._grad_norms = _fallback.call("per_example_grad_norms", self.x, self.weights,
                                              self.biases, self.grad_out)
        return self._grad_norms
