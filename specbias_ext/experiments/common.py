"""Helpers shared by the experiment modules: pair sets, patterns of a snapshot, per-seed curves."""
from __future__ import annotations

import numpy as np
import torch

from .. import ops
from ..samplers import corner_pairs_2d, global_pairs_1d, local_pairs_1d, local_pairs_2d
from .tasks import TrainedSet, Variant


def pairs_1d(preset: dict, n: int, seed: int = 0) -> dict:
    return {"local": local_pairs_1d(n, seed=seed, **preset["local1d"]),
            "global": global_pairs_1d(n, seed=seed, **preset["global1d"])}


def pairs_2d(preset: dict, shape, seed: int = 0) -> dict:
    return {"local": local_pairs_2d(shape, seed=seed, **preset["local2d"]),
            "global": corner_pairs_2d(shape, seed=seed, **preset["corner2d"])}


def inputs(tset: TrainedSet, variant: Variant, device) -> torch.Tensor:
    return tset.inputs[variant].to(device)


def patterns_at(tset: TrainedSet, variant: Variant, seed: int, k: int, device):
    """(patterns, weights, biases) of model (variant, seed) at record k on the whole grid."""
    w, b = tset.params(variant, seed, k)
    return ops.activation_patterns(inputs(tset, variant, device), w, b), w, b


def mean_hamming(patterns, pairs, device, segments=None) -> np.ndarray:
    i, j = (t.to(device) for t in pairs)
    d = ops.hamming_pairs(patterns, i, j, segments)
    return d.double().mean(0).cpu().numpy()


def mse_grad_out(tset: TrainedSet, variant: Variant, seed: int, k: int, device) -> torch.Tensor:
    """dl_i/df(x_i) of the per-example MSE loss: 2 (f - y) / out_dim."""
    fit = tset.fit(variant, seed, k).to(device)
    target = tset.target.to(device)
    return 2.0 * (fit - target) / target.shape[1]
