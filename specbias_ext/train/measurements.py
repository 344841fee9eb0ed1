"""The monitor's measurements table: what a record holds and how each entry is measured.

Every measurement is one function ``(inputs, rec, arrays)`` in ``TABLE`` that fills the record
``rec`` (JSON-able scalars and short lists) and ``arrays`` (bigger numpy arrays) from the
``RecordInputs`` of one record, through the functions of ``specbias_ext.measure``; ``take_record``
runs the ones a ``MonitorConfig`` asks for. The definitions are in docs/measurements.md.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from .. import measure
from ..data.samplers import PairSampling
from ..measure.complexity import METHODS as LC_METHODS, check_radius
from ..measure.summaries import fraction
from ..nets.network import ReluNetwork
from ..stats.grid_counts import GridCount

Tensor = torch.Tensor

MEASUREMENTS = ("loss", "regions", "hamming", "confusion", "neurons", "grad_norms",
                "region_grads", "spectral", "lc")
#: What a record takes unless told: all but local complexity, whose 2D forwards per point (one
#: per hull vertex) cost more than the pattern measurements together.
DEFAULT_MEASUREMENTS = tuple(m for m in MEASUREMENTS if m != "lc")
NEEDS_FIT = ("loss", "confusion", "grad_norms", "region_grads", "spectral")
NEEDS_TARGET = NEEDS_FIT
#: Measurements that pair neighbouring grid points (or take a DFT over the grid).
NEEDS_GRID = ("hamming", "confusion", "spectral")


@dataclass
class MonitorConfig:
    """Which measurements a record takes and their settings.

    ``measurements``: any of "loss", "regions", "hamming", "confusion", "neurons",
    "grad_norms", "region_grads", "spectral", "lc" (default: all but "lc"). Loss and PSNR are
    recorded whenever the fit is evaluated ("loss" or any gradient or spectral measurement); a
    record of only pattern measurements ("regions", "hamming", "neurons") skips the forward
    pass.
    ``pairs``: the local/global pair settings (None: the paper's, shrunk where a small grid holds
    fewer pairs, ``PairSampling().fitted(grid_shape)``); ``seed``: their seed (drawn once, so every
    record uses the same pairs). ``num_bands``: radial bands of the 2D spectral residual.
    ``confusion_bins`` / ``coherence_bins``: histogram bins on [-1, 1] / [0, 1]. ``psnr_peak``:
    peak of PSNR = 10 log10(peak^2 / MSE), None = the target's max - min. ``save_region_maps`` /
    ``save_pair_values``: keep region-id maps / per-pair values among the arrays.
    ``lc_radius``: the radius of the local complexity in coordinate units (None: the grid step,
    which the monitor fills in; required on points that are not a grid); ``lc_method``:
    "sampled" or "first_order" (``measure.local_complexity``); ``save_lc_values``: keep each
    point's LC among the arrays.
    """

    measurements: tuple = DEFAULT_MEASUREMENTS
    pairs: Optional[PairSampling] = None
    seed: int = 0
    num_bands: int = 8
    confusion_bins: int = 40
    coherence_bins: int = 20
    psnr_peak: Optional[float] = None
    save_region_maps: bool = True
    save_pair_values: bool = True
    lc_radius: Optional[float] = None
    lc_method: str = "sampled"
    save_lc_values: bool = True

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
        if self.lc_radius is not None:
            self.lc_radius = check_radius(self.lc_radius, "lc_radius")
        if self.lc_method not in LC_METHODS:
            raise ValueError(f"lc_method: expected one of {', '.join(LC_METHODS)}, got "
                             f"{self.lc_method!r}")

    def wants(self, name: str) -> bool:
        return name in self.measurements

    def without(self, names: Sequence[str]) -> "MonitorConfig":
        """The same settings without the measurements ``names``."""
        kept = tuple(m for m in self.measurements if m not in names)
        return MonitorConfig(**{**self.__dict__, "measurements": kept})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measurements"] = list(self.measurements)
        return d


class PairSet:
    """The local/global pairs of a monitor on one device, concatenated so each op runs once per
    record (``kinds`` names the slice of each kind), and the points they touch."""

    def __init__(self, pairs: dict[str, tuple[Tensor, Tensor]], device):
        self.kinds: list[tuple[str, slice]] = []
        ii, jj, start = [], [], 0
        for kind, (i, j) in pairs.items():
            self.kinds.append((kind, slice(start, start + i.numel())))
            ii.append(i.to(device))
            jj.append(j.to(device))
            start += i.numel()
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        self.i = torch.cat(ii) if ii else empty
        self.j = torch.cat(jj) if jj else empty
        self.points = torch.unique(torch.cat([self.i, self.j]))


@dataclass
class RecordInputs:
    """What one record's measurements share (each derived quantity computed at most once)."""

    net: ReluNetwork
    x: Tensor
    config: MonitorConfig
    grid_shape: Optional[tuple[int, ...]]
    pairs: Optional[PairSet] = None
    signal_freqs: Optional[list[int]] = None
    fit: Optional[Tensor] = None
    target: Optional[Tensor] = None
    grad_out: Optional[Tensor] = None
    # Coordinate-space measurements (local complexity) need the raw coordinates [N, D] (float64)
    # and the map from them to the network's input (None: the network reads the coordinates).
    coords: Optional[Tensor] = None
    encoder: Optional[Callable[[Tensor], Tensor]] = None
    _patterns: Optional[Tensor] = field(default=None, repr=False)
    _regions: Optional[measure.RegionStats] = field(default=None, repr=False)
    _sq_norms: Optional[Tensor] = field(default=None, repr=False)

    def patterns(self) -> Tensor:
        if self._patterns is None:
            self._patterns = measure.patterns(self.x, self.net)
        return self._patterns

    def regions(self) -> measure.RegionStats:
        if self._regions is None:
            self._regions = measure.region_stats(self.patterns(), self.grid_shape)
        return self._regions

    def has_sq_norms(self) -> bool:
        return self._sq_norms is not None

    def sq_norms(self) -> Tensor:
        if self._sq_norms is None:
            self._sq_norms = measure.layer_sq_norms(self.x, self.net, self.grad_out)
        return self._sq_norms

    def norms(self) -> Tensor:
        return self.sq_norms().sum(dim=1).clamp_min(0).sqrt()


def saturation_display(count: int, points: int) -> str:
    """A region count as printed: ``"count"``, or ``">= count (saturated)"`` when the grid
    cannot resolve the regions (``stats.grid_counts``' rule)."""
    if points < 1:
        return str(count)
    grid_count = GridCount(count, points)
    return f"{grid_count.display()} (saturated)" if grid_count.saturated else grid_count.display()


def regions(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    st = inputs.regions()
    points = int(inputs.x.shape[0])
    rec["regions"] = st.count
    rec["regions_grid"] = {
        "shape": None if inputs.grid_shape is None else list(inputs.grid_shape),
        "points": points, "saturated": points > 0 and GridCount(st.count, points).saturated,
        "display": saturation_display(st.count, points)}
    rec["region_size_hist_log2"] = st.size_hist_log2
    rec["largest_region_frac"] = st.largest_frac
    if st.neighbor_boundary_frac is not None:
        rec["neighbor_boundary_frac"] = st.neighbor_boundary_frac
    if inputs.config.save_region_maps:
        ids = st.ids.cpu().numpy()
        arrays["region_ids"] = ids.reshape(inputs.grid_shape) if inputs.grid_shape else ids
        # the maps' colours: one pattern key per region (stable across records and runs)
        arrays["region_keys"] = measure.region_keys(inputs.patterns(), st.ids,
                                                    st.count).cpu().numpy()
    arrays["region_sizes"] = st.counts.cpu().numpy()


def hamming(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    pairs = inputs.pairs
    all_layers = measure.pair_hamming(inputs.patterns(), pairs.i, pairs.j, inputs.net)
    bits = sum(inputs.net.hidden_widths)
    for kind, sl in pairs.kinds:
        per_layer = all_layers[sl]
        total = per_layer.sum(dim=1)
        rec[f"hamming_{kind}"] = measure.summary(total)
        rec[f"hamming_{kind}_per_layer"] = per_layer.to(torch.float64).mean(0).cpu().tolist()
        arrays[f"hamming_{kind}_hist"] = torch.bincount(total.cpu(), minlength=bits + 1).numpy()
        if inputs.config.save_pair_values:
            arrays[f"hamming_{kind}"] = per_layer.cpu().numpy().astype(np.int32)


def confusion(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    pairs, cfg = inputs.pairs, inputs.config
    if inputs.has_sq_norms() or cfg.wants("grad_norms"):
        all_conf = measure.confusion_pairs(inputs.x, inputs.net, inputs.grad_out, pairs.i,
                                           pairs.j, norms=inputs.norms())
    else:
        dots, norms = measure.pair_dots_and_norms(inputs.x, inputs.net, inputs.grad_out,
                                                  pairs.i, pairs.j, points=pairs.points)
        all_conf = measure.cosine(dots, norms[pairs.i], norms[pairs.j])
    for kind, sl in pairs.kinds:
        conf = all_conf[sl]
        stats = measure.summary(conf)
        stats["frac_negative"] = fraction(conf < 0)
        stats["frac_abs_gt_0.9"] = fraction(conf.abs() > 0.9)
        rec[f"confusion_{kind}"] = stats
        rec[f"confusion_{kind}_hist"] = measure.histogram(conf, cfg.confusion_bins, -1.0, 1.0)
        if cfg.save_pair_values:
            arrays[f"confusion_{kind}"] = conf.to(torch.float32).cpu().numpy()


def neurons(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    act = measure.neuron_activity(inputs.patterns(), inputs.net)
    rec["dead_neurons"], rec["dead_neurons_per_layer"] = act.dead, act.dead_per_layer
    rec["always_on_neurons"] = act.always_on
    rec["always_on_neurons_per_layer"] = act.always_on_per_layer
    arrays["neuron_on_counts"] = act.on_counts.cpu().numpy()


def grad_norms(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    st = measure.grad_norm_stats(inputs.sq_norms())
    rec["grad_norm"], rec["grad_norm_sq_layer_share"] = st.norm, st.layer_share


def region_grads(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    st_regions = inputs.regions()
    grads = measure.region_grads(inputs.x, inputs.net, inputs.grad_out, st_regions.ids,
                                 st_regions.count)
    st = measure.coherence_stats(grads, st_regions.counts, inputs.config.coherence_bins)
    rec["region_grad_norm"] = st.norm_of_sum
    rec["region_coherence_multi"] = st.multi
    rec["region_coherence_weighted"] = st.weighted
    rec["region_coherence_hist"] = st.hist
    arrays["region_coherence"] = grads.coherence.cpu().numpy()


def spectral(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    fit, target = inputs.fit, inputs.target
    if len(inputs.grid_shape) == 1:
        per_channel = torch.stack([
            measure.spectral_residual_1d(fit[:, c], target[:, c], inputs.signal_freqs)
            for c in range(target.shape[1])])
        rec["spectral_freqs"] = list(inputs.signal_freqs)
        rec["spectral_residual"] = per_channel.mean(0).cpu().tolist()
    else:
        h, w = inputs.grid_shape
        bands = inputs.config.num_bands
        rec["band_residual"] = measure.radial_band_residual_2d(
            fit.reshape(h, w, -1), target.reshape(h, w, -1), bands).cpu().tolist()
        rec["band_cycles_per_sample"] = [list(e) for e in measure.radial_band_edges(bands)]


def lc(inputs: RecordInputs, rec: dict, arrays: dict) -> None:
    """Local complexity of the network around every monitored point (in coordinate space,
    through the record's encoder), ``measure.local_complexity``'s summary."""
    cfg = inputs.config
    # the coordinates in the network's dtype (an encoding whose phases need float64 is lifted
    # back to it by the measurement)
    coords = inputs.coords.to(inputs.net.dtype)
    result = measure.local_complexity(coords, inputs.encoder, inputs.net, cfg.lc_radius,
                                      method=cfg.lc_method, grid_shape=inputs.grid_shape)
    rec["lc"] = result.summary()
    if cfg.save_lc_values:
        total = result.total.to(torch.int32).cpu().numpy()
        arrays["lc"] = total.reshape(inputs.grid_shape) if inputs.grid_shape else total


#: name -> the function that measures it ("loss" is taken with the fit, see ``take_record``).
TABLE: dict[str, Callable[[RecordInputs, dict, dict], None]] = {
    "regions": regions, "hamming": hamming, "confusion": confusion, "neurons": neurons,
    "grad_norms": grad_norms, "region_grads": region_grads, "spectral": spectral, "lc": lc,
}


class DivergedError(ValueError):
    """The network being recorded holds NaN/inf weights or outputs (training diverged)."""


def take_record(inputs: RecordInputs, step_name: str, step: int,
                timings: Optional[dict[str, float]] = None) -> tuple[dict, dict]:
    """One record ``(rec, arrays)`` of the measurements ``inputs.config`` asks for; the seconds
    each took go to ``timings``. Raises ``DivergedError`` for a fit that is not finite."""
    cfg = inputs.config
    rec: dict[str, Any] = {step_name: int(step)}
    arrays: dict[str, np.ndarray] = {}
    timings = {} if timings is None else timings
    with torch.no_grad():
        if any(cfg.wants(m) for m in NEEDS_FIT):
            fit, y = measure.network_forward(inputs.net, inputs.x), inputs.target
            if fit.shape != y.shape:
                raise ValueError(f"target: has shape {list(y.shape)} but the model outputs "
                                 f"{list(fit.shape)}")
            if not bool(torch.isfinite(fit).all()):
                raise DivergedError(f"model: its output holds NaN or inf at {step_name} {step}")
            mse = measure.mse(fit, y)
            peak = cfg.psnr_peak if cfg.psnr_peak is not None else measure.target_peak(y)
            rec["loss"], rec["psnr"] = mse, measure.psnr(mse, peak)
            inputs.fit, inputs.grad_out = fit, measure.mse_grad_out(fit, y)
        for name in (m for m in MEASUREMENTS if cfg.wants(m) and m != "loss"):
            t0 = time.perf_counter()
            TABLE[name](inputs, rec, arrays)
            timings[name] = time.perf_counter() - t0
    return rec, arrays
