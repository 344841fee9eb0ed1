"""specbias_ext: fused torch ops for the spectral-bias analyses of coordinate-based ReLU MLPs.

The package reads bottom-up, each floor importing only the floors below it:

- ``nets``: ``ReluNetwork`` (the one network description), reading it off a module, our
  ``CoordinateMLP``, encodings, safe model loading;
- ``data``: grids, signals and images, index-pair samplers;
- ``ops``: typed wrappers of ``torch.ops.specbias`` (CPU and CUDA kernels behind one schema) with
  their fake kernels; ``reference``: plain-torch versions of every op;
- ``exact``: exact and certified region counts; ``stats``: intervals, verdicts, grid counts;
- ``measure``: one function per measured quantity;
- ``analysis``: streamed and sharded grid analysis, ensembles;
- ``train``: ``RegionMonitor`` for any training loop, and the package's trainer;
- ``runs``: files written atomically, checkpoints, provenance, output checks, devices;
- ``plots``: the figures; ``experiments``: the paper's experiments, claims and report;
- ``commands``: the ``specbias`` command line.
"""
from . import data, exact, measure, nets, ops, reference, runs, stats, train
from ._version import __version__
from .data.samplers import PairSampling
from .measure import (confusion_block, confusion_pairs, empirical_ntk, mse_grad_out,
                      region_coherence)
from .nets.layout import hidden_widths, layer_bit_ranges, mlp_params, num_pattern_words
from .nets.network import ReluNetwork, relu_network
from .nets.split_model import split_model
from .ops import (activation_patterns, bit_counts, boundary_distance, build_info, coord_gradients,
                  grad_dots, grad_gram, hamming_neighbors, hamming_pairs, hamming_pairs_per_layer,
                  per_example_grad_norms, region_grad_norms, region_ids)
from .train.monitor import MonitorConfig, RegionMonitor

__all__ = [
    "MonitorConfig", "PairSampling", "RegionMonitor", "ReluNetwork", "activation_patterns",
    "bit_counts", "boundary_distance", "build_info", "confusion_block",
    "confusion_pairs", "coord_gradients", "data", "empirical_ntk", "exact", "grad_dots",
    "grad_gram", "hamming_neighbors", "hamming_pairs", "hamming_pairs_per_layer", "hidden_widths",
    "layer_bit_ranges", "measure", "mlp_params", "mse_grad_out", "nets", "num_pattern_words",
    "ops", "per_example_grad_norms", "reference", "region_coherence", "region_grad_norms",
    "region_ids", "relu_network", "runs", "split_model", "stats", "train",
]
