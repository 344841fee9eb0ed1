"""TEMPORARY SHIM: plain-torch fallbacks for the specbias ops whose kernels are not merged yet.

``call(name, *args)`` runs ``torch.ops.specbias.<name>`` and, only if the op has no kernel for the
inputs' device (the dispatcher raises NotImplementedError), the fallback below, which implements
exactly the semantics documented in specbias_ext/ops.py and shared/DESIGN.md:

- region ids in order of first appearance, counts per region;
- Hamming distance = popcount of the XOR of packed patterns (optionally per bit segment);
- per-example gradient norms by the formula ||g_i||^2 = sum_l ||delta_l||^2 (||a_{l-1}||^2 + 1);
- gradient inner products sum_l (delta_l^i . delta_l^j)(a_{l-1}^i . a_{l-1}^j + 1);
- region gradient norms ||sum_{i in S_r} g_i|| (exact) and sum_{i in S_r} ||g_i||.

No per-example gradient is materialised; work is chunked over points so memory stays bounded.
Once the kernels land, ``call`` switches to them automatically; ``backend_used`` says which ran.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional, Sequence

import torch

from . import _loader  # noqa: F401  (registers torch.ops.specbias)

Tensor = torch.Tensor

CHUNK = 16384          # points per chunk in the gradient fallbacks
_NO_KERNEL: set[tuple[str, str]] = set()
_TRIED: set[tuple[str, str]] = set()


def _device_of(args) -> str:
    for a in args:
        if isinstance(a, Tensor):
            return a.device.type
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            return a[0].device.type
    return "cpu"


def call(name: str, *args):
    """Run the op's kernel, or its fallback when the op has no kernel for this device."""
    key = (name, _device_of(args))
    _TRIED.add(key)
    if key not in _NO_KERNEL:
        try:
            return getattr(torch.ops.specbias, name)(*args)
        except NotImplementedError:
            _NO_KERNEL.add(key)
    return FALLBACKS[name](*args)


def backend_used(name: str, device="cpu") -> str:
    """"kernel", "fallback", or "not called": what ``call(name, ...)`` ran on this device type."""
    key = (name, torch.device(device).type)
    if key not in _TRIED:
        return "not called"
    return "fallback" if key in _NO_KERNEL else "kernel"


# ----------------------------------------------------------------------------- bits

_M1, _M2, _M4 = 0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F


def popcount_rows(words: Tensor) -> Tensor:
    """Number of set bits of each row of an int64 [..., W] tensor -> int64 [...].

    Bit-parallel popcount; every shift is followed by a mask with a clear top bit, so torch's
    arithmetic (sign-extending) right shift does no harm.
    """
    x = words - ((words >> 1) & _M1)
    x = (x & _M2) + ((x >> 2) & _M2)
    x = (x + (x >> 4)) & _M4                    # per-byte counts (<= 8)
    return x.contiguous().view(torch.uint8).reshape(*x.shape[:-1], -1).sum(dim=-1,
                                                                          dtype=torch.int64)


def _unpack(words: Tensor, num_bits: int) -> Tensor:
    shifts = torch.arange(64, device=words.device, dtype=torch.int64)
    bits = (words.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(*words.shape[:-1], -1)[..., :num_bits]


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    n, words = patterns.shape
    if n == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=patterns.device)
        return empty, empty.clone()
    # Lexicographic sort of the rows by stable sorts from the last word to the first, then a new
    # group wherever a row differs from the previous one (torch.unique(dim=0) is far slower).
    order = torch.arange(n, device=patterns.device)
    for w in range(words - 1, -1, -1):
        order = order[torch.argsort(patterns[order, w], stable=True)]
    rows = patterns[order]
    starts = torch.ones(n, dtype=torch.bool, device=patterns.device)
    starts[1:] = (rows[1:] != rows[:-1]).any(dim=1)
    group = torch.cumsum(starts.to(torch.int64), 0) - 1          # sorted-order group of a row
    num_groups = int(group[-1]) + 1
    # Groups are sorted by value; renumber them by first appearance (the smallest original row
    # index in the group, which a stable sort puts first within the group).
    first = order[starts]
    rank = torch.empty(num_groups, dtype=torch.int64, device=patterns.device)
    rank[torch.argsort(first)] = torch.arange(num_groups, device=patterns.device)
    ids = torch.empty(n, dtype=torch.int64, device=patterns.device)
    ids[order] = rank[group]
    return ids, torch.bincount(ids, minlength=num_groups)


def _segment_masks(segments: Sequence[int], num_words: int, device) -> Tensor:
    """int64 [S, W]: the bits b_s..b_{s+1}-1 of each segment as packed word masks."""
    bits = torch.arange(num_words * 64, device=device)
    bounds = torch.tensor(list(segments), device=device)
    inside = (bits >= bounds[:-1, None]) & (bits < bounds[1:, None])        # [S, W*64]
    weights = torch.ones(64, dtype=torch.int64, device=device) << torch.arange(64, device=device)
    return (inside.view(-1, num_words, 64).to(torch.int64) * weights).sum(dim=2)


def hamming_pairs(patterns: Tensor, i: Tensor, j: Tensor,
                  segments: Optional[Sequence[int]] = None) -> Tensor:
    num_words = patterns.shape[1]
    masks = None if segments is None else _segment_masks(segments, num_words, patterns.device)
    out = []
    for s in range(0, i.shape[0], CHUNK):
        xor = patterns.index_select(0, i[s:s + CHUNK]) ^ patterns.index_select(0, j[s:s + CHUNK])
        if masks is None:
            out.append(popcount_rows(xor))
            continue
        cols = []
        for k in range(len(segments) - 1):     # only the words a segment touches
            w0, w1 = int(segments[k]) // 64, -(-int(segments[k + 1]) // 64)
            cols.append(popcount_rows(xor[:, w0:w1] & masks[k, w0:w1]) if w1 > w0
                        else xor.new_zeros(xor.shape[0]))
        out.append(torch.stack(cols, dim=1))
    if not out:
        shape = (0,) if segments is None else (0, len(segments) - 1)
        return torch.zeros(shape, dtype=torch.int64, device=patterns.device)
    return torch.cat(out)


def hamming_neighbors(patterns: Tensor, grid_shape: Sequence[int]) -> list[Tensor]:
    shape = [int(s) for s in grid_shape]
    grid = patterns.reshape(*shape, patterns.shape[1])
    out = []
    for axis in range(len(shape)):
        a = grid.narrow(axis, 0, shape[axis] - 1)
        b = grid.narrow(axis, 1, shape[axis] - 1)
        out.append(popcount_rows(a ^ b))
    return out


def bit_counts(patterns: Tensor, num_bits: int) -> Tensor:
    total = torch.zeros(int(num_bits), dtype=torch.int64, device=patterns.device)
    for s in range(0, patterns.shape[0], CHUNK):
        total += _unpack(patterns[s:s + CHUNK], int(num_bits)).sum(dim=0)
    return total


# ----------------------------------------------------------------------------- gradients


def layer_inputs_and_deltas(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                            grad_out: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``(a, delta)``: a[l] = input of layer l (a_{l-1}), delta[l] = dl/dz_l, l = 0..L."""
    with torch.no_grad():
        inputs, masks = [x], []
        a = x
        for w, b in zip(weights[:-1], biases[:-1]):
            z = torch.addmm(b, a, w.T)
            masks.append(z > 0)
            a = torch.relu(z)
            inputs.append(a)
        deltas = [grad_out.to(x.dtype)]
        for l in range(len(weights) - 2, -1, -1):
            d = (deltas[0] @ weights[l + 1]) * masks[l]
            deltas.insert(0, d)
    return inputs, deltas


def per_example_grad_norms(x, weights, biases, grad_out) -> Tensor:
    out = x.new_zeros((x.shape[0], len(weights)))
    for s in range(0, x.shape[0], CHUNK):
        a, d = layer_inputs_and_deltas(x[s:s + CHUNK], weights, biases, grad_out[s:s + CHUNK])
        for l in range(len(weights)):
            out[s:s + CHUNK, l] = d[l].square().sum(1) * (a[l].square().sum(1) + 1)
    return out


def _pair_dots_gather(a, d, pi, pj) -> Tensor:
    out = 0
    for al, dl in zip(a, d):
        dd = (dl.index_select(0, pi) * dl.index_select(0, pj)).sum(1)
        aa = (al.index_select(0, pi) * al.index_select(0, pj)).sum(1)
        out = out + dd * (aa + 1)
    return out


def _pair_dots_sampled(a, d, pi, pj) -> Tensor:
    """The per-layer row dot products at the pairs as sampled dense-dense products (SDDMM on a
    CSR pattern of the pairs): no gathered copies of the rows, which is what costs time."""
    u = a[0].shape[0]
    # Distinct pairs in row-major order are exactly a CSR pattern (duplicates are not allowed).
    keys, inverse = torch.unique(pi * u + pj, return_inverse=True)
    rows, cols = keys // u, keys % u
    crow = torch.zeros(u + 1, dtype=torch.int64, device=pi.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=u), 0)
    pattern = torch.sparse_csr_tensor(crow, cols, a[0].new_ones(keys.numel()), (u, u))
    out = 0
    for al, dl in zip(a, d):
        dd = torch.sparse.sampled_addmm(pattern, dl, dl.T, beta=0.0).values()
        aa = torch.sparse.sampled_addmm(pattern, al, al.T, beta=0.0).values()
        out = out + dd * (aa + 1)
    return out[inverse]


_SAMPLED_OK: dict[str, bool] = {}


def _pair_dots(a, d, pi, pj) -> Tensor:
    key = f"{pi.device.type}/{a[0].dtype}"
    if _SAMPLED_OK.get(key, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "sparse CSR is in beta"
                result = _pair_dots_sampled(a, d, pi, pj)
            _SAMPLED_OK[key] = True
            return result
        except (RuntimeError, NotImplementedError):
            _SAMPLED_OK[key] = False
    return _pair_dots_gather(a, d, pi, pj)


def grad_dots(x, weights, biases, grad_out, i, j) -> Tensor:
    out = x.new_zeros((i.shape[0],))
    for s in range(0, i.shape[0], CHUNK):
        ii, jj = i[s:s + CHUNK], j[s:s + CHUNK]
        # One forward/backward per distinct point of the chunk's pairs (pairs share points).
        points, inverse = torch.unique(torch.cat([ii, jj]), return_inverse=True)
        pi, pj = inverse[:ii.numel()], inverse[ii.numel():]
        a, d = layer_inputs_and_deltas(x[points], weights, biases, grad_out[points])
        out[s:s + CHUNK] = _pair_dots(a, d, pi, pj)
    return out


def _group_sq_norm_of_sum(a: Tensor, d: Tensor) -> Tensor:
    """||sum_m d[g, m] (x) [a[g, m], 1]||^2 for each group g of padded members [G, M, .]."""
    m, out_w, in_w = a.shape[1], d.shape[2], a.shape[2] + 1
    if m * (out_w + in_w) < out_w * in_w:  # pairwise Gram products are cheaper
        return ((d @ d.transpose(1, 2)) * (a @ a.transpose(1, 2) + 1)).sum(dim=(1, 2))
    a1 = torch.cat([a, a.new_ones(a.shape[:2] + (1,))], dim=2)
    return (d.transpose(1, 2) @ a1).square().sum(dim=(1, 2))


def region_grad_norms(x, weights, biases, grad_out, ids, num_regions) -> tuple[Tensor, Tensor]:
    # Every point goes through exactly one forward/backward below, which also gives its ||g_i||.
    num_regions = int(num_regions)
    sum_of_norms = x.new_zeros(num_regions)
    norm_sq = x.new_zeros(num_regions)
    if x.shape[0] == 0 or num_regions == 0:
        return norm_sq, sum_of_norms
    order = torch.argsort(ids, stable=True)
    counts = torch.bincount(ids, minlength=num_regions)
    starts = torch.cumsum(counts, 0) - counts
    counts_l, starts_l = counts.tolist(), starts.tolist()
    r = 0
    while r < num_regions:
        if counts_l[r] > CHUNK:  # one big region: accumulate sum_i delta_i [a_i, 1]^T
            members = order[starts_l[r]:starts_l[r] + counts_l[r]]
            total = x.new_zeros(())
            sums = None
            for s in range(0, members.numel(), CHUNK):
                idx = members[s:s + CHUNK]
                a, d = layer_inputs_and_deltas(x[idx], weights, biases, grad_out[idx])
                sum_of_norms[r] += _example_sq_norms(a, d).sqrt().sum()
                part = [torch.cat([d[l].T @ a[l], d[l].sum(0, keepdim=True).T], 1)
                        for l in range(len(weights))]
                sums = part if sums is None else [p + q for p, q in zip(sums, part)]
            for p in sums:
                total = total + p.square().sum()
            norm_sq[r] = total
            r += 1
            continue
        r_end, members_total = r, 0  # a group of whole regions with <= CHUNK members
        while r_end < num_regions and counts_l[r_end] <= CHUNK and \
                members_total + counts_l[r_end] <= CHUNK:
            members_total += counts_l[r_end]
            r_end += 1
        _small_regions(x, weights, biases, grad_out, ids, order, counts, starts, r, r_end,
                       norm_sq, sum_of_norms)
        r = r_end
    return norm_sq.clamp_min(0).sqrt(), sum_of_norms


def _example_sq_norms(a: list[Tensor], d: list[Tensor]) -> Tensor:
    """||g_i||^2 = sum_l ||delta_l||^2 (||a_{l-1}||^2 + 1) of each row."""
    return sum(dl.square().sum(1) * (al.square().sum(1) + 1) for al, dl in zip(a, d))


def _small_regions(x, weights, biases, grad_out, ids, order, counts, starts, r0, r1, norm_sq,
                   sum_of_norms):
    first, last = int(starts[r0]), int(starts[r1 - 1] + counts[r1 - 1])
    idx = order[first:last]
    a, d = layer_inputs_and_deltas(x[idx], weights, biases, grad_out[idx])
    sum_of_norms.index_add_(0, ids[idx], _example_sq_norms(a, d).clamp_min(0).sqrt())
    local_counts = counts[r0:r1]
    local_starts = starts[r0:r1] - first
    size_bucket = torch.ceil(torch.log2(local_counts.to(torch.float64))).to(torch.int64)
    size_bucket[local_counts == 0] = -1       # empty regions keep a norm of 0
    for bucket in torch.unique(size_bucket).tolist():
        if bucket < 0:
            continue
        regions = torch.nonzero(size_bucket == bucket).flatten()
        width = 1 << bucket
        slot = torch.arange(width, device=x.device)
        rows = local_starts[regions].unsqueeze(1) + slot
        valid = slot < local_counts[regions].unsqueeze(1)
        rows = torch.where(valid, rows, torch.zeros_like(rows))
        mask = valid.unsqueeze(2).to(x.dtype)
        total = x.new_zeros(regions.numel())
        for l in range(len(weights)):
            total += _group_sq_norm_of_sum(a[l][rows] * mask, d[l][rows] * mask)
        norm_sq[r0 + regions] = total


FALLBACKS: dict[str, Callable] = {
    "region_ids": region_ids,
    "hamming_pairs": hamming_pairs,
    "hamming_neighbors": hamming_neighbors,
    "bit_counts": bit_counts,
    "per_example_grad_norms": per_example_grad_norms,
    "grad_dots": grad_dots,
    "region_grad_norms": region_grad_norms,
}
