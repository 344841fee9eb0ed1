"""One plain function per measured quantity: tensors in (encoded points ``x``, a ``ReluNetwork``,
``grad_out``, index pairs), tensors or small dataclasses out.

Every caller (``RegionMonitor``, the Recorder and trainer, the experiments of ``reproduce``,
the benchmarks) measures through these functions, so each quantity and its conventions are
decided in exactly one place. The definitions are in docs/measurements.md.
"""
from .confusion import (
    confusion_block, confusion_pairs, cosine, grad_norms, grad_norms_at, pair_dots_and_norms,
)
from .forward import network_forward
from .boundaries import RegionSlopes, boundary_distance, coord_slopes
from .complexity import LocalComplexity, local_complexity, local_complexity_of_grid
from .grad_stats import GradNormStats, grad_norm_stats, layer_sq_norms
from .hamming import mean_pair_hamming, neighbour_hamming, pair_hamming
from .loss import mse, mse_grad_head, mse_grad_out, psnr, target_peak
from .neurons import NeuronActivity, neuron_activity
from .ntk import empirical_ntk
from .params import hyperplane_cosines, layer_spectral_norms
from .region_gradients import (
    CoherenceStats, RegionGrads, coherence, coherence_stats, region_coherence, region_grads,
)
from .regions import (
    RegionStats, pattern_keys, patterns, region_count, region_keys, region_stats,
)
from .spectral import (
    radial_band_edges, radial_band_index, radial_band_residual_2d, spectral_residual_1d,
)
from .summaries import histogram, log2_size_histogram, summary

__all__ = [
    "CoherenceStats", "GradNormStats", "LocalComplexity", "NeuronActivity", "RegionGrads",
    "RegionSlopes", "RegionStats", "boundary_distance", "coherence", "coherence_stats",
    "confusion_block", "confusion_pairs", "coord_slopes", "cosine", "empirical_ntk",
    "grad_norm_stats", "grad_norms", "grad_norms_at", "histogram", "hyperplane_cosines",
    "layer_spectral_norms", "layer_sq_norms", "local_complexity", "local_complexity_of_grid",
    "log2_size_histogram", "mean_pair_hamming", "mse", "mse_grad_head", "mse_grad_out",
    "neighbour_hamming",
    "network_forward", "neuron_activity", "pair_dots_and_norms", "pair_hamming", "pattern_keys",
    "patterns", "psnr", "radial_band_edges", "radial_band_index",
    "radial_band_residual_2d", "region_coherence", "region_count", "region_grads",
    "region_keys", "region_stats", "spectral_residual_1d", "summary", "target_peak",
]
