"""Reference forward pass and per-example gradients of any described network (ReluNetwork).

Plain torch, written from the recurrences in ``specbias_ext.nets.network``: input skips concatenate
``[a_{l-1}, x_S]`` (x_S = all of x, or the columns ``skip_columns[l]`` names), a bias-free layer
adds nothing, LeakyReLU is ``where(z > 0, z, slope * z)``,
a residual layer adds a_{l-1}. Per-example gradients over ALL parameters come from
``torch.func.vmap(grad(...))`` on this forward, so nothing of the kernels' factorisation is
reused. For tests on small networks only.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch.func import grad, vmap

from ..nets.network import ReluNetwork, check_input_width, require_network

Tensor = torch.Tensor


def _act(z: Tensor, slope: float) -> Tensor:
    # The derivative at z == 0 is the slope (0 for ReLU), matching the pattern bit 1[z > 0].
    return torch.where(z > 0, z, z * slope)


def _forward_params(net: ReluNetwork, params: Sequence[Optional[Tensor]],
                    x: Tensor) -> tuple[list[Tensor], Tensor]:
    """(hidden pre-activations z_0..z_{L-1}, output z_L) with the layers' parameters given as
    ``params = [W_0, b_0 or None, W_1, ...]``."""
    a = x
    zs = []
    for l in range(net.depth + 1):
        w, b = params[2 * l], params[2 * l + 1]
        inp = torch.cat([a, net.skip_input(l, x)], dim=-1) if net.input_skips[l] else a
        z = inp @ w.T
        if b is not None:
            z = z + b
        if l == net.depth:
            return zs, z
        zs.append(z)
        new_a = _act(z, net.slopes[l])
        a = new_a + a if net.residual[l] else new_a
    raise AssertionError("unreachable")


def _params(net: ReluNetwork) -> list[Optional[Tensor]]:
    out: list[Optional[Tensor]] = []
    for w, b in zip(net.weights, net.biases):
        out += [w.detach(), None if b is None else b.detach()]
    return out


def _checked(net: ReluNetwork, x: Tensor) -> ReluNetwork:
    """The ops' two checks before a pass: ``net`` is a ReluNetwork reading x's features."""
    net = require_network(net)
    if x.dim() == 2:
        check_input_width(net, x.shape[1])
    return net


def forward(net: ReluNetwork, x: Tensor) -> Tensor:
    """The network's output.

    Args:
        net (ReluNetwork): the network.
        x (Tensor[N, D]): the encoded points.

    Returns:
        Tensor[N, out]: f(x).
    """
    net = _checked(net, x)
    return _forward_params(net, _params(net), x)[1]


def hidden_preactivations(net: ReluNetwork, x: Tensor) -> list[Tensor]:
    """The pre-activations of every hidden layer (arguments as ``forward``).

    Returns:
        list[Tensor]: z_l ``[N, out_l]`` for l = 0..L-1.
    """
    net = _checked(net, x)
    return _forward_params(net, _params(net), x)[0]


def pattern_bits(net: ReluNetwork, x: Tensor) -> Tensor:
    """Unpacked activation patterns (arguments as ``forward``).

    Returns:
        Tensor[N, H]: bool, 1 iff the pre-activation is > 0 (layer 0 first).
    """
    zs = hidden_preactivations(net, x)
    return torch.cat([z > 0 for z in zs], dim=1)


def per_example_grads(net: ReluNetwork, x: Tensor, grad_out: Tensor) -> list[Tensor]:
    """Per-example gradients by layer, for the loss ``sum_o grad_out[i, o] * f(x_i)[o]``.

    Args:
        net (ReluNetwork), x (Tensor[N, D]): as for ``forward``.
        grad_out (Tensor[N, out]): dl_i / df(x_i).

    Returns:
        list[Tensor]: ``[N, out_l * in_l (+ out_l with a bias)]`` per layer, the weight block
        then the bias.
    """
    net = _checked(net, x)
    params = _params(net)
    present = [k for k, p in enumerate(params) if p is not None]
    n = x.shape[0]
    sizes = [sum(params[k].numel() for k in (2 * l, 2 * l + 1) if params[k] is not None)
             for l in range(net.depth + 1)]
    if n == 0:
        return [x.new_zeros((0, s)) for s in sizes]

    def loss(live, xi, gi):
        full = list(params)
        for k, p in zip(present, live):
            full[k] = p
        return (_forward_params(net, full, xi.unsqueeze(0))[1].squeeze(0) * gi).sum()

    live = [params[k] for k in present]
    grads = vmap(grad(loss), in_dims=(None, 0, 0))(live, x.detach(), grad_out.detach())
    by_index = dict(zip(present, grads))
    out = []
    for l in range(net.depth + 1):
        blocks = [by_index[k].reshape(n, -1) for k in (2 * l, 2 * l + 1) if k in by_index]
        out.append(torch.cat(blocks, dim=1))
    return out


def flat_per_example_grads(net: ReluNetwork, x: Tensor, grad_out: Tensor) -> Tensor:
    """Every per-example gradient over all parameters as one row (arguments as
    ``per_example_grads``).

    Returns:
        Tensor[N, P]: the gradients, layer by layer, weight then bias.
    """
    return torch.cat(per_example_grads(net, x, grad_out), dim=1)
