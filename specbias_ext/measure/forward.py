"""The output f(x) of a described network, for measurements (no autograd graph is kept by the
callers, who run it under no_grad). Same recurrences as ``reference.network.forward``, with
fused addmm and relu / leaky_relu so that a record's fit costs what the model's forward costs."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets.network import ReluNetwork, check_input_width, require_network

Tensor = torch.Tensor


def network_forward(net: ReluNetwork, x: Tensor) -> Tensor:
    """f(x) ``[N, out]`` of ``net`` on the encoded points ``x [N, in]``."""
    net = require_network(net)
    check_input_width(net, x.shape[1])
    a = x
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        inp = torch.cat([a, net.skip_input(l, x)], dim=1) if net.input_skips[l] else a
        z = torch.addmm(b, inp, w.T) if b is not None else inp @ w.T
        if l == net.depth:
            return z
        slope = net.slopes[l]
        act = torch.relu(z) if slope == 0 else F.leaky_relu(z, slope)
        a = act + a if net.residual[l] else act
    raise ValueError("net: a network needs a head layer")
