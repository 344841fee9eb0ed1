"""Local complexity computed the way the published research code does it (Humayun, Balestriero and
Baraniuk's scripts for "Training Dynamics of Deep Network Linear Regions" / "Deep Networks
Always Grok"): the model as torch modules, a forward hook on every hidden layer's
pre-activation module storing its output, the hull vertices of a batch of points concatenated
and sent through one forward, and per layer the number of neurons whose sign at some vertex
differs from the first vertex's. Written independently of specbias_ext's kernels, for the tests
(a brute-force check) and the benchmarks (the baseline to beat); nothing in the package imports
it.

Two deliberate departures from the scripts, both so that the counts are comparable: the sign is
the pattern bit ``z > 0`` (the scripts compare ``torch.sign``, which also tells an exact 0 from a
negative value), and the last partial batch is kept (the scripts' DataLoader drops it).
"""
from __future__ import annotations

import torch
from torch import nn


class HookedNetwork(nn.Module):
    """A described network (ReluNetwork) rebuilt from nn.Linear layers, with an nn.Identity on
    each hidden layer's pre-activation for the hooks (as the scripts hook an Identity/BatchNorm
    module), and an optional encoding module in front."""

    def __init__(self, net, encoding=None):
        super().__init__()
        self.encoding = encoding if encoding is not None else nn.Identity()
        self.linears = nn.ModuleList()
        for w, b in zip(net.weights, net.biases):
            layer = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=w.dtype,
                              device=w.device)
            with torch.no_grad():
                layer.weight.copy_(w)
                if b is not None:
                    layer.bias.copy_(b)
            self.linears.append(layer)
        self.preacts = nn.ModuleList(nn.Identity() for _ in range(net.depth))
        self.slopes, self.skips, self.residual = net.slopes, net.input_skips, net.residual
        self.skip_input = net.skip_input          # the x columns a skip reads

    def forward(self, coords):
        x = self.encoding(coords)
        a = x
        for l, preact in enumerate(self.preacts):
            inp = torch.cat([a, self.skip_input(l, x)], dim=1) if self.skips[l] else a
            z = preact(self.linears[l](inp))
            act = torch.nn.functional.leaky_relu(z, self.slopes[l]) if self.slopes[l] else \
                torch.relu(z)
            a = act + a if self.residual[l] else act
        head = torch.cat([a, self.skip_input(len(self.skips) - 1, x)], dim=1) \
            if self.skips[-1] else a
        return self.linears[-1](head)


def add_hooks(model: HookedNetwork):
    """(layer names, activation buffer, hook handles): a forward hook per hidden layer."""
    buffer = {}

    def keep(name):
        def hook(module, inputs, output):
            buffer[name] = output.detach()
        return hook

    names = [f"layer{l}" for l in range(len(model.preacts))]
    handles = [m.register_forward_hook(keep(n)) for n, m in zip(names, model.preacts)]
    return names, buffer, handles


def ortho_hull(points, directions, radius, include_centre=False):
    """``[N, V, D]`` hull vertices: ``x + r s`` for every direction, then ``x - r s``, then the
    centre (the scripts' get_ortho_hull_around_samples[_w_orig], with the directions given)."""
    step = directions * radius
    hull = [points[:, None, :] + step[None], points[:, None, :] - step[None]]
    if include_centre:
        hull.append(points[:, None, :])
    return torch.cat(hull, dim=1)


def intersections_from_activation(act, batch_size):
    """Per point of the batch: neurons whose bit differs from the first vertex's somewhere."""
    bits = (act > 0).reshape(batch_size, act.shape[0] // batch_size, -1)
    match = bits[:, 1:] != bits[:, :1]
    return torch.any(match, dim=1).sum(dim=-1)


@torch.no_grad()
def intersections_for_hulls(hulls, model, batch_size=256):
    """int64 ``[N, L]``: the per-layer counts, one forward of all the vertices of a batch."""
    names, buffer, handles = add_hooks(model)
    try:
        n, v = hulls.shape[:2]
        out = torch.zeros(n, len(names), dtype=torch.int64)
        for start in range(0, n, batch_size):
            batch = hulls[start:start + batch_size]
            model(batch.reshape(batch.shape[0] * v, *hulls.shape[2:]))
            for i, name in enumerate(names):
                out[start:start + batch.shape[0], i] = intersections_from_activation(
                    buffer[name], batch.shape[0]).cpu()
        return out
    finally:
        for h in handles:
            h.remove()
