"""Dead and always-on neurons on a set of points.

A hidden neuron is dead on the points when its pre-activation is <= 0 at every point (its
pattern bit is never on) and always on when it is > 0 at every point.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import ops
from ..nets.network import ReluNetwork, require_network

Tensor = torch.Tensor


@dataclass
class NeuronActivity:
    """``on_counts [H]`` (points where each neuron is on, layer 0 first) and the dead /
    always-on counts per hidden layer and in total."""

    on_counts: Tensor
    dead_per_layer: list
    always_on_per_layer: list

    @property
    def dead(self) -> int:
        return sum(self.dead_per_layer)

    @property
    def always_on(self) -> int:
        return sum(self.always_on_per_layer)


def neuron_activity(patterns: Tensor, net: ReluNetwork) -> NeuronActivity:
    """Dead / always-on neurons of ``net`` on the points whose ``patterns`` are given."""
    n = patterns.shape[0]
    net = require_network(net)
    counts = ops.bit_counts(patterns, net.num_hidden)
    dead, on = [], []
    for start, end in net.layer_bit_ranges():
        dead.append(int((counts[start:end] == 0).sum()))
        on.append(int((counts[start:end] == n).sum()))
    return NeuronActivity(counts, dead, on)
