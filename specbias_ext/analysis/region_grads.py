"""Region gradient norms of a grid streamed tile by tile (and over ranks), exactly.

For region S_r the analysis reports ``||sum_{i in S_r} g_i||`` and ``sum_{i in S_r} ||g_i||``
(their ratio is the coherence, ``measure.region_gradients``). A region may span several tiles
(and ranks), and the summed gradient has one entry per parameter, far too many to keep per
region. But inside a region the activation pattern is fixed, so the network is affine there:
with ``xt = [x, 1]`` (x: the network input, after the encoding),

    input of layer l   = A_l xt            (A_l: in_l (+1 for a bias) x (d+1))
    delta of layer l   = C_l^T grad_out    (C_l = d f / d z_l: out x width_l)
    gradient of layer l's parameters at one point = C_l^T grad_out xt^T A_l^T

and A_l, C_l depend on the pattern only. Summed over the region's points:

    sum_i g_i (layer l) = C_l^T  G  A_l^T,     G = sum_i grad_out_i xt_i^T   (out x (d+1)),

so the ``out * (d + 1)`` numbers of G, which add across tiles and ranks, determine the region's
summed gradient. Per tile, for each region present, the analysis keeps one row: the op's
``region_grad_norms`` of the tile's points (exact for a region met in this tile only), the
tile's sum of norms and its G. At the end:

- a region met in one tile takes the op's values for that tile unchanged;
- a region met in several tiles sums its rows' ``sum_of_norms`` and G in tile order, and its
  norm of the summed gradient is ``sqrt(sum_l ||C_l^T G A_l^T||_F^2)``, evaluated from its
  pattern in float64 (``norm_from_stats``) in chunks of consecutive global ids whose size
  depends on the network only (``id_chunk``).

Every row is computed on its own tile, sums run in tile order, and the chunks are fixed by the
global ids, so a sharded run gives the same bits as one process (rows are sent to the rank
owning their chunk of ids). Memory: one row (``2 + out * (d + 1)`` float64) per region and
tile it meets, on the rank that scanned the tile or owns the region's chunk.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import ops
from ..nets.network import ReluNetwork
from ..reference.patterns import unpack_bits

Tensor = torch.Tensor

#: Working memory of one chunk of multi-tile regions in ``norm_from_stats``.
CHUNK_BYTES = 64 << 20


def id_chunk(net: ReluNetwork) -> int:
    """Multi-tile regions are evaluated in chunks of this many consecutive global ids: a power
    of two from the network's shape alone (so every rank and every run agree), sized so that a
    chunk's affine maps (``sum_l in_l x (d + 1)`` float64 per region) take about CHUNK_BYTES."""
    d = net.in_dim
    per_region = 8 * (d + 1) * sum(int(w.shape[1]) + 1 + int(w.shape[0])
                                   for w in net.weights)
    size = 1
    while size < (1 << 14) and 2 * size * per_region <= CHUNK_BYTES:
        size *= 2
    return size


@dataclass
class RegionRows:
    """One row per (region, tile): the region's table row (or global id), the tile, the op's
    norm of the summed gradient and sum of norms on that tile, and G flattened
    ``[out * (d + 1)]`` (float64)."""

    region: Tensor      # int64 [m]
    tile: Tensor        # int64 [m]
    norm_of_sum: Tensor  # float64 [m]
    sum_of_norms: Tensor  # float64 [m]
    stats: Tensor       # float64 [m, out * (d + 1)]

    @staticmethod
    def empty(width: int, device="cpu") -> "RegionRows":
        z = torch.zeros(0, dtype=torch.int64, device=device)
        f = torch.zeros(0, dtype=torch.float64, device=device)
        return RegionRows(z, z.clone(), f, f.clone(),
                          torch.zeros((0, width), dtype=torch.float64, device=device))

    @staticmethod
    def cat(parts: list["RegionRows"], width: int) -> "RegionRows":
        if not parts:
            return RegionRows.empty(width)
        return RegionRows(*(torch.cat([getattr(p, f) for p in parts]) for f in
                            ("region", "tile", "norm_of_sum", "sum_of_norms", "stats")))


def stats_width(net: ReluNetwork) -> int:
    return net.out_dim * (net.in_dim + 1)


def tile_rows(x: Tensor, net: ReluNetwork, grad_out: Tensor, regions: Tensor,
              tile: int) -> RegionRows:
    """The rows of one tile: ``regions`` [T] gives each point's region (any int64 labels)."""
    labels, local = torch.unique(regions, return_inverse=True)
    k = int(labels.numel())
    nos, son = ops.region_grad_norms(x, net, grad_out, local, k)
    xt = torch.cat([x.to(torch.float64), x.new_ones((x.shape[0], 1), dtype=torch.float64)], 1)
    per_point = (grad_out.to(torch.float64).unsqueeze(2) * xt.unsqueeze(1)).flatten(1)
    order = torch.argsort(local, stable=True)
    lengths = torch.bincount(local, minlength=k)
    # segment_reduce sums each segment in point order, whatever the thread count.
    g = torch.segment_reduce(per_point[order], "sum", lengths=lengths, axis=0) if k else \
        per_point.new_zeros((0, per_point.shape[1]))
    return RegionRows(labels.cpu(), torch.full((k,), tile, dtype=torch.int64),
                      nos.to(torch.float64).cpu(), son.to(torch.float64).cpu(), g.cpu())


def _layer_masks(net: ReluNetwork, patterns: Tensor) -> list[Tensor]:
    """Per hidden layer, float64 [B, width]: the activation's derivative (1 where on, the slope
    where off), from packed patterns [B, words]."""
    bits = unpack_bits(patterns, net.num_hidden)
    out = []
    for (a, b), slope in zip(net.layer_bit_ranges(), net.slopes):
        on = bits[:, a:b]
        out.append(torch.where(on, torch.ones((), dtype=torch.float64),
                               torch.full((), float(slope), dtype=torch.float64)))
    return out


def norm_from_stats(net: ReluNetwork, patterns: Tensor, stats: Tensor) -> Tensor:
    """``||C^T G A^T||`` over all layers for regions with packed ``patterns`` [B, words] and
    flattened ``stats`` G [B, out * (d + 1)]: the norm of each region's summed gradient
    (float64 [B]), with the network made affine by the pattern."""
    b = patterns.shape[0]
    d, out = net.in_dim, net.out_dim
    dev = patterns.device
    w = [t.detach().to(dev, torch.float64) for t in net.weights]
    bias = [t is not None for t in net.biases]
    bvec = [None if t is None else t.detach().to(dev, torch.float64) for t in net.biases]
    g = stats.to(dev, torch.float64).reshape(b, out, d + 1)
    masks = _layer_masks(net, patterns.to(dev))
    eye = torch.eye(d, d + 1, dtype=torch.float64, device=dev).expand(b, d, d + 1)
    one = torch.zeros(1, d + 1, dtype=torch.float64, device=dev)
    one[0, d] = 1.0
    one = one.expand(b, 1, d + 1)

    # Forward: the affine map xt -> input of each layer (with the constant row for a bias).
    a = eye
    inputs = []
    for l in range(net.depth + 1):
        inp = torch.cat([a, net.skip_input(l, eye.transpose(1, 2)).transpose(1, 2)], dim=1) \
            if net.input_skips[l] else a
        inputs.append(torch.cat([inp, one], dim=1) if bias[l] else inp)
        if l == net.depth:
            break
        z = torch.matmul(w[l], inp)
        if bias[l]:
            z = z + bvec[l].view(1, -1, 1) * one
        new_a = masks[l].unsqueeze(2) * z
        a = new_a + a if net.residual[l] else new_a

    # Backward: C_l = d f / d z_l and P = d f / d a_l, from the output down;
    # a residual layer's a_l = act(z_l) + a_{l-1} passes P on to a_{l-1} unchanged.
    def term(c: Tensor, inp: Tensor) -> Tensor:
        # ||C^T G A^T||_F^2 = <G^T (C C^T) G, A^T A>
        cct = torch.matmul(c, c.transpose(1, 2))
        ata = torch.matmul(inp.transpose(1, 2), inp)
        return (torch.matmul(g.transpose(1, 2), torch.matmul(cct, g)) * ata).sum(dim=(1, 2))

    top = net.depth
    total = term(torch.eye(out, dtype=torch.float64, device=dev).expand(b, out, out),
                 inputs[top])
    if top:
        p = w[top][:, :w[top - 1].shape[0]].expand(b, out, -1)
    for l in range(top - 1, -1, -1):
        c = p * masks[l].unsqueeze(1)
        total = total + term(c, inputs[l])
        if l:
            below = torch.matmul(c, w[l][:, :w[l - 1].shape[0]])
            p = below + p if net.residual[l] else below
    return total.clamp_min(0).sqrt()


def combine_rows(rows: RegionRows, patterns: Tensor, net: ReluNetwork) -> tuple[Tensor, Tensor,
                                                                                 Tensor]:
    """``(regions, norm_of_sum, sum_of_norms)`` for the distinct regions of ``rows`` (by global
    id, increasing), from every row of each region; ``patterns`` [m, words] is the pattern of
    each row's region. Multi-tile regions sum their rows in tile order and are evaluated in
    chunks of ``id_chunk(net)`` consecutive ids, so the result does not depend on which other
    regions are present."""
    m = int(rows.region.numel())
    if m == 0:
        f = torch.zeros(0, dtype=torch.float64)
        return torch.zeros(0, dtype=torch.int64), f, f.clone()
    order = torch.argsort(rows.tile, stable=True)
    order = order[torch.argsort(rows.region[order], stable=True)]
    region = rows.region[order]
    regions, counts = torch.unique_consecutive(region, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    first = order[starts]
    norm_of_sum = rows.norm_of_sum[first].clone()
    sum_of_norms = rows.sum_of_norms[first].clone()
    multi = torch.nonzero(counts > 1).flatten()
    if multi.numel():
        # Tile-order sums: step j adds the (j+1)-th row of every region that has one; regions
        # sorted by decreasing row count make those a prefix.
        by_count = multi[torch.argsort(counts[multi], descending=True, stable=True)]
        cnt = counts[by_count]
        son = rows.sum_of_norms[first[by_count]].clone()
        g = rows.stats[first[by_count]].clone()
        for j in range(1, int(cnt[0])):
            live = int((cnt > j).sum())
            at = order[starts[by_count[:live]] + j]
            son[:live] += rows.sum_of_norms[at]
            g[:live] += rows.stats[at]
        sum_of_norms[by_count] = son
        # Evaluate in chunks of global ids (multi is increasing in id).
        g_by_id = g[torch.argsort(by_count)]   # back to increasing id, as in multi
        chunk = regions[multi] // id_chunk(net)
        bounds = torch.nonzero(chunk[1:] != chunk[:-1]).flatten() + 1
        cuts = [0] + bounds.tolist() + [int(multi.numel())]
        for a, b in zip(cuts[:-1], cuts[1:]):
            sel = multi[a:b]
            norm_of_sum[sel] = norm_from_stats(net, patterns[first[sel]], g_by_id[a:b]).cpu()
    return regions, norm_of_sum, sum_of_norms


def by_region(parts, num_regions: int) -> tuple[Tensor, Tensor]:
    """``(norm_of_sum [R], sum_of_norms [R])`` from ``(regions, norm_of_sum, sum_of_norms)``
    parts that together cover every region."""
    out_nos = torch.zeros(num_regions, dtype=torch.float64)
    out_son = torch.zeros(num_regions, dtype=torch.float64)
    for regions, nos, son in parts:
        out_nos[regions], out_son[regions] = nos, son
    return out_nos, out_son


def region_grad_arrays(rows: RegionRows, table_patterns: Tensor, net: ReluNetwork,
                       num_regions: int) -> tuple[Tensor, Tensor]:
    """One process: ``(norm_of_sum [R], sum_of_norms [R])`` with rows labelled by table row."""
    return by_region([combine_rows(rows, table_patterns.cpu()[rows.region], net)], num_regions)
