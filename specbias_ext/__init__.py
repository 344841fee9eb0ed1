"""specbias_ext: fused torch ops for the spectral-bias analyses of coordinate-based ReLU MLPs.

The ops live in ``torch.ops.specbias`` (CPU and CUDA kernels behind one schema); typed wrappers
are in ``specbias_ext.ops`` and plain-torch references in ``specbias_ext.reference``.
"""
from . import gradients, ops, reference
from . import encodings, grids, measure, models, monitor, recorder, results, samplers, signals
from . import spectral, training
from .build import build_info
from .gradients import (
    confusion_block,
    confusion_pairs,
    empirical_ntk,
    mse_grad_out,
    region_coherence,
)
from .monitor import MonitorConfig, RegionMonitor
from .networks import ReluNetwork, as_network, relu_network
from .samplers import PairSampling
from .mlp import hidden_widths, layer_bit_ranges, mlp_params, num_pattern_words
from .ops import (
    activation_patterns,
    bit_counts,
    grad_dots,
    grad_gram,
    hamming_neighbors,
    hamming_pairs,
    hamming_pairs_per_layer,
    per_example_grad_norms,
    region_grad_norms,
    region_ids,
)

__version__ = "0.1.0"

__all__ = [
    "activation_patterns", "bit_counts", "build_info", "confusion_block", "confusion_pairs",
    "empirical_ntk", "gradients", "mse_grad_out", "region_coherence", "grad_dots", "grad_gram",
    "encodings", "grids", "measure", "models", "monitor", "recorder", "results", "samplers",
    "signals", "spectral", "training", "MonitorConfig", "PairSampling", "RegionMonitor",
    "hamming_neighbors", "hamming_pairs", "hamming_pairs_per_layer", "hidden_widths",
    "layer_bit_ranges", "mlp_params", "num_pattern_words", "ops", "per_example_grad_norms",
    "reference", "region_grad_norms", "region_ids", "ReluNetwork", "as_network", "relu_network",
]

# Geometry (boundary distance, coordinate slopes, exact 1D regions, hyperplanes, layer norms);
from . import geometry  # noqa: E402,F401
