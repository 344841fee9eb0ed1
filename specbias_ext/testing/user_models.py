"""Modules written the way users write them (NeRF, DeepSDF, residual MLPs), for relu_network's
tests and the network benchmarks. Widths and depths are arguments so tests stay small."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NeRFTrunk(nn.Module):
    """The NeRF MLP up to its density: ``depth`` layers of ``width``; after layer ``skip`` the
    encoded input is concatenated in front, ``cat([x, h])`` (so layer skip+1 reads it)."""

    def __init__(self, in_dim=63, width=256, depth=8, skip=4, slope=0.0):
        super().__init__()
        self.skip, self.slope = skip, slope
        self.pts_linears = nn.ModuleList(
            [nn.Linear(in_dim, width)]
            + [nn.Linear(width + in_dim if i == skip else width, width) for i in range(depth - 1)])
        self.density_head = nn.Linear(width, 1)

    def trunk(self, x):
        h = x
        for i, layer in enumerate(self.pts_linears):
            h = F.leaky_relu(layer(h), self.slope) if self.slope else F.relu(layer(h))
            if i == self.skip:
                h = torch.cat([x, h], -1)
        return h

    def forward(self, x):
        return self.density_head(self.trunk(x))


class NeRFLike(NeRFTrunk):
    """The full NeRF MLP: density head on the trunk, colour from a feature layer and the view
    directions ``d``; returns ``(rgb, sigma)``."""

    def __init__(self, in_dim=63, view_dim=27, width=256, depth=8, skip=4, slope=0.0):
        super().__init__(in_dim, width, depth, skip, slope)
        self.feature = nn.Linear(width, width)
        self.views_linear = nn.Linear(width + view_dim, width // 2)
        self.rgb_linear = nn.Linear(width // 2, 3)

    def forward(self, x, d):
        h = self.trunk(x)
        sigma = self.density_head(h)
        h2 = F.relu(self.views_linear(torch.cat([self.feature(h), d], -1)))
        return torch.sigmoid(self.rgb_linear(h2)), sigma


class DeepSDFLike(nn.Module):
    """DeepSDF's decoder: ``depth`` layers, the input concatenated behind the hidden state
    (``cat([h, x], 1)``) at layer ``skip``; eval-mode dropout after each layer; optional
    bias-free layers and LeakyReLU."""

    def __init__(self, in_dim=3, width=512, depth=8, skip=4, bias=True, slope=0.0,
                 dropout=0.2):
        super().__init__()
        self.skip = skip
        dims = [in_dim] + [width] * depth
        self.lins = nn.ModuleList()
        for l in range(depth):
            fan_in = dims[l] + (in_dim if l == skip else 0)
            self.lins.append(nn.Linear(fan_in, dims[l + 1], bias=bias))
        self.head = nn.Linear(width, 1)
        self.act = nn.LeakyReLU(slope) if slope else nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = x
        for l, lin in enumerate(self.lins):
            if l == self.skip:
                h = torch.cat([h, x], 1)
            h = self.dropout(self.act(lin(h)))
        return self.head(h)


class ResidualMLP(nn.Module):
    """An input layer, ``blocks`` residual layers ``h = h + relu(W h + b)``, a linear head."""

    def __init__(self, in_dim=2, width=32, blocks=3, out_dim=1):
        super().__init__()
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(blocks)])
        self.out = nn.Linear(width, out_dim)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        for block in self.blocks:
            h = h + F.relu(block(h))
        return self.out(h)
