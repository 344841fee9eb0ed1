"""Helpers shared by the experiment modules: pair sets, snapshots as networks, their patterns."""
from __future__ import annotations

import torch

from .. import measure
from .tasks import TrainedSet
from .variants import Variant


def pairs_1d(preset, n: int, seed: int = 0) -> dict:
    return preset.pairs.sample((n,), seed)


def pairs_2d(preset, shape, seed: int = 0) -> dict:
    return preset.pairs.sample(shape, seed)


def inputs(tset: TrainedSet, variant: Variant, device) -> torch.Tensor:
    return tset.inputs[variant].to(device)


def patterns_at(tset: TrainedSet, variant: Variant, seed: int, k: int, device):
    """(patterns on the whole grid, ReluNetwork) of model (variant, seed) at record k."""
    net = tset.network(variant, seed, k).to(device)
    return measure.patterns(inputs(tset, variant, device), net), net


def grad_out_at(tset: TrainedSet, variant: Variant, seed: int, k: int, device) -> torch.Tensor:
    """The MSE grad_out of model (variant, seed) at record k."""
    return measure.mse_grad_out(tset.fit(variant, seed, k).to(device), tset.target.to(device))
