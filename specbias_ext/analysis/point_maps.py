"""Per-point arrays of a grid small enough to draw, for the maps of `specbias analyze`.

The grid analysis (``stream``) keeps statistics, not per-point values. For a 1D or 2D grid that
is drawn, one more pass over the same tiles (the scanner's own coordinates, encoding and
network, so every pattern is bit-identical to the one the analysis numbered) gives:

- ``region_keys [R]``: the pattern key (``measure.pattern_keys``) of every region, taken at its
  first point: the region maps' colours, stable across grids, runs and processes;
- ``hamming_axis<k>``: the Hamming distance from each point to its next neighbour along axis k
  (``ops.hamming_neighbors``' layout: that axis one shorter);
- ``neuron_on [M, *shape]`` (uint8) for the neurons ``neurons = [(layer, index), ...]``;
- with ``boundary``: ``boundary_distance`` and ``coord_slope`` (||d f / d coords||, all outputs);
- with ``grads``: ``grad_norm``, the per-example gradient norm over all parameters with
  ``grad_out = 1`` (the `--grads output` convention);
- ``fit [*shape, out]`` for a 1D grid (the network's output, drawn over the target).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import ops
from ..measure.forward import network_forward
from ..measure.regions import pattern_keys
from ..ops.coordinates import boundary_distance, coord_gradients
from .tile_scan import DEFAULT_TILE, TileScanner

Tensor = torch.Tensor


def check_neurons(neurons: Sequence, hidden_widths: Sequence[int]) -> list[tuple[int, int]]:
    """``[(layer, index), ...]`` checked against the hidden layer widths (layer 0 first)."""
    out = []
    for item in neurons:
        try:
            layer, index = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError(f"neurons: expected (layer, index) pairs, got {item!r}") from None
        if not 0 <= layer < len(hidden_widths):
            raise ValueError(f"neurons: layer {layer} does not exist (hidden layers 0.."
                             f"{len(hidden_widths) - 1})")
        if not 0 <= index < hidden_widths[layer]:
            raise ValueError(f"neurons: layer {layer} has {hidden_widths[layer]} neurons, got "
                             f"index {index}")
        out.append((layer, index))
    return out


def balanced_neurons(bit_counts: Tensor, layer_bits: Sequence[tuple], points: int,
                     layers: Sequence[int]) -> list[tuple[int, int]]:
    """In each of ``layers``, the neuron on at the share of points closest to one half (the
    most informative on/off map; ties: the lowest index)."""
    out = []
    for layer in dict.fromkeys(layers):
        a, b = layer_bits[layer]
        share = bit_counts[a:b].to(torch.float64) / max(points, 1)
        out.append((layer, int(torch.argmin((share - 0.5).abs()))))
    return out


def point_maps(model, grid, ids: Tensor, num_regions: int, *, encoding=None,
               tile: int = DEFAULT_TILE, neurons: Sequence = (), boundary: bool = False,
               grads: bool = False, device="cpu", dtype=torch.float32) -> dict:
    """The per-point arrays of the module docstring (numpy, grid-shaped) for ``ids`` (the
    analysis' region ids of ``grid``, grid-shaped); ``model``/``encoding``/``tile``/``device``/
    ``dtype`` as given to the analysis, so the patterns are the ones it numbered."""
    sc = TileScanner(model, grid, encoding=encoding, tile=tile, device=device, dtype=dtype)
    if len(sc.shape) not in (1, 2):
        raise ValueError(f"grid: maps are drawn for 1D and 2D grids, got {list(sc.shape)}")
    flat_ids = ids.reshape(-1).to(sc.device)
    if flat_ids.numel() != sc.n:
        raise ValueError(f"ids: expected {sc.n} region ids (one per grid point), got "
                         f"{flat_ids.numel()}")
    widths = [int(w.shape[0]) for w in sc.weights[:-1]]
    chosen = check_neurons(neurons, widths)
    starts = np.cumsum([0] + widths)
    keys = torch.empty(sc.n, dtype=torch.int64, device=sc.device)
    hamming = [torch.zeros(sc.n, dtype=torch.int16, device=sc.device) for _ in sc.shape]
    on = torch.zeros((len(chosen), sc.n), dtype=torch.uint8, device=sc.device)
    dist = torch.empty(sc.n, dtype=torch.float32, device=sc.device) if boundary else None
    slope = torch.empty(sc.n, dtype=torch.float32, device=sc.device) if boundary else None
    gnorm = torch.empty(sc.n, dtype=torch.float32, device=sc.device) if grads else None
    fit = torch.empty((sc.n, sc.net.out_dim), dtype=torch.float32, device=sc.device) \
        if len(sc.shape) == 1 else None
    prev = torch.zeros((0, sc.words), dtype=torch.int64, device=sc.device)
    with torch.no_grad():
        for k in range(sc.num_tiles):
            a, b = sc.tile_range(k)
            coords = sc.coords(a, b)
            x = sc.encode(coords)
            p = ops.activation_patterns(x, sc.net)
            keys[a:b] = pattern_keys(p)
            buffer = torch.cat([prev, p])
            base = a - prev.shape[0]
            j = torch.arange(a, b, dtype=torch.int64, device=sc.device)
            for axis, (size, stride) in enumerate(zip(sc.shape, sc.strides)):
                jj = j[(j // stride) % size != 0]     # pairs (j - stride, j), stored at j
                if jj.numel():
                    hamming[axis][jj - stride] = ops.hamming_pairs(
                        buffer, jj - stride - base, jj - base).to(torch.int16)
            prev = buffer[max(0, buffer.shape[0] - sc.strides[0]):]
            for m, (layer, index) in enumerate(chosen):
                bit = int(starts[layer]) + index
                on[m, a:b] = ((p[:, bit // 64] >> (bit % 64)) & 1).to(torch.uint8)
            if boundary:
                dist[a:b] = boundary_distance(coords, sc.encoding, sc.net)[0].float()
                g = coord_gradients(coords, sc.encoding, sc.net)
                slope[a:b] = g.flatten(1).to(torch.float64).norm(dim=1).float()
            if grads:
                ones = x.new_ones((x.shape[0], sc.net.out_dim))
                sq = ops.per_example_grad_norms(x, sc.net, ones).to(torch.float64)
                gnorm[a:b] = sq.sum(dim=1).clamp_min(0).sqrt().float()
            if fit is not None:
                fit[a:b] = network_forward(sc.net, x).float()
    rows = torch.arange(sc.n, device=sc.device)
    first = torch.full((int(num_regions),), sc.n, dtype=torch.int64, device=sc.device)
    first = first.scatter_reduce(0, flat_ids, rows, reduce="amin")
    shape = tuple(sc.shape)
    out = {"region_keys": keys[first].cpu().numpy()}
    for axis in range(len(shape)):
        full = hamming[axis].reshape(shape).cpu().numpy()
        out[f"hamming_axis{axis}"] = np.take(full, range(shape[axis] - 1), axis=axis)
    if chosen:
        out["neuron_on"] = on.reshape((len(chosen),) + shape).cpu().numpy()
        out["neuron_ids"] = np.asarray(chosen, dtype=np.int64).reshape(-1, 2)
    for name, value in (("boundary_distance", dist), ("coord_slope", slope),
                        ("grad_norm", gnorm)):
        if value is not None:
            out[name] = value.reshape(shape).cpu().numpy()
    if fit is not None:
        out["fit"] = fit.reshape(shape + (-1,)).cpu().numpy()
    first_layer = sc.weights[0]
    out["first_layer_weight"] = first_layer.detach().to(torch.float64).cpu().numpy()
    bias = sc.net.biases[0]
    if bias is not None:
        out["first_layer_bias"] = bias.detach().to(torch.float64).cpu().numpy()
    return out
