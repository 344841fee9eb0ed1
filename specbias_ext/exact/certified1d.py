"""Certified linear regions of a network along a 1D segment, for any encoding.

For a 1D coordinate t in [lo, hi), the encoding is ``x_e(t) = u_e(t)`` or ``sin(u_e(t))`` with
``u_e(t) = m_e t + o_e`` (its affine-sine form), and every hidden neuron's pre-activation
``z_lk(t)`` is a continuous, piecewise smooth function of t. A *breakpoint* is a point where some
neuron's pattern bit ``1[z_lk > 0]`` changes; the regions along the segment are the pieces
between consecutive breakpoints, so their number is ``breakpoints + 1``.

The segment is cut into cells. On each cell [a, b] one vectorised pass bounds, for every neuron,

* the value ``z_lk`` over the cell: the interval forward pass (centre-radius form), intersected
  with the mean-value form ``z(mid) + [z'] * [-h, h]`` (h the half width);
* the derivative ``z_lk'`` over the cell: the same pass in forward mode, where a neuron whose
  value interval contains 0 contributes the hull of its two one-sided slopes.

A neuron is *resolved* on the cell when its value interval certifies a constant bit (lower bound
> 0 or upper bound <= 0) or its derivative interval excludes 0 (strictly monotone: then its bit
changes exactly once in the cell if the bits at the two ends differ, and never otherwise). A cell
whose neurons are all resolved is done; one that is not is halved until ``min_width``, where it
is left *unresolved* and its length reported. Each certified change is then located by a
bracketing root search (Illinois) to ``root_tol``; changes of different neurons closer than
``merge_tol`` count as one breakpoint.

All bounds are computed in float64 with an outward margin of ``(n + 2) eps`` times the
magnitudes at every dot product of length n (the classical bound on its rounding error) and on
every sine argument, so they enclose the real-number values; the bits at cell ends come from a
float64 forward pass. On raw inputs the result matches ``exact.breakpoints1d.exact_breakpoints_1d``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch

from ..nets.encodings import Encoding
from ..nets.network import ENCODING_HINT, ReluNetwork, check_input_width, require_network

Tensor = torch.Tensor
# An encoding of 1D coordinates in affine-sine form: ours, a (matrix, offset, periodic) triple,
# or None for raw coordinates.
LineEncoding = Optional[Union[Encoding, tuple[Tensor, Tensor, Tensor]]]

EPS64 = float(torch.finfo(torch.float64).eps)
TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class CertifiedRegions1D:
    """Result of ``certified_regions_1d``.

    ``count`` is the number of regions on [lo, hi): distinct certified breakpoints + 1, plus one
    for each unresolved cell whose end bits differ and that holds no certified breakpoint — so it
    is exact when ``unresolved_length == 0`` and a lower bound otherwise (a change counts there
    only when the neuron is nonzero at both ends, so it lies strictly inside the cell). ``breakpoints`` are the
    certified breakpoints (sorted float64, strictly inside (lo, hi)); ``unresolved`` the
    unresolved cells ``[K, 2]``.
    """

    count: int
    breakpoints: Tensor
    unresolved: Tensor
    unresolved_length: float
    lo: float
    hi: float
    min_width: float
    cells_evaluated: int

    @property
    def exact(self) -> bool:
        return self.unresolved_length == 0.0

    def to_json(self) -> dict:
        return {"count": self.count, "exact": self.exact,
                "breakpoints": int(self.breakpoints.numel()),
                "unresolved_cells": int(self.unresolved.shape[0]),
                "unresolved_length": self.unresolved_length, "lo": self.lo, "hi": self.hi,
                "min_width": self.min_width, "cells_evaluated": self.cells_evaluated}


# ----------------------------------------------------------------------------- the encoded line


def _line(encoding: LineEncoding, net: ReluNetwork) -> tuple[Tensor, Tensor, Tensor]:
    """(m [E], o [E], periodic [E]) float64: the encoding of a 1D coordinate."""
    if encoding is None:
        m, o, p = (torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                   torch.zeros(1, dtype=torch.bool))
    elif hasattr(encoding, "affine_sine"):
        m, o, p = encoding.affine_sine(dtype=torch.float64)
    elif isinstance(encoding, (tuple, list)) and len(encoding) == 3:
        m, o, p = encoding
    else:
        raise TypeError("encoding: expected an Encoding, a (matrix, offset, periodic) triple or "
                        f"None (raw), got {type(encoding).__name__}")
    device = net.device
    m = torch.as_tensor(m).to(device=device, dtype=torch.float64)
    if m.dim() != 2 or m.shape[1] != 1:
        raise ValueError("encoding: expected an encoding of 1D coordinates (matrix [E, 1]), got "
                         f"matrix {list(m.shape)}")
    o = torch.as_tensor(o).to(device=device, dtype=torch.float64).reshape(-1)
    p = torch.as_tensor(p).to(device=device, dtype=torch.bool).reshape(-1)
    if not (o.shape[0] == p.shape[0] == m.shape[0]):
        raise ValueError(f"encoding: matrix {list(m.shape)}, offset {list(o.shape)} and periodic "
                         f"{list(p.shape)} disagree")
    check_input_width(net, m.shape[0], "coords" if encoding is None else "the encoding's output",
                      ENCODING_HINT)
    return m[:, 0], o, p


def _sin_range(lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """Exact range of sin over [lo, hi] (elementwise), widened by the rounding of sin."""
    s_lo, s_hi = torch.sin(lo), torch.sin(hi)
    mn, mx = torch.minimum(s_lo, s_hi), torch.maximum(s_lo, s_hi)
    k = torch.ceil((lo - math.pi / 2) / TWO_PI)
    has_max = (math.pi / 2 + TWO_PI * k) <= hi
    k = torch.ceil((lo + math.pi / 2) / TWO_PI)
    has_min = (-math.pi / 2 + TWO_PI * k) <= hi
    mx = torch.where(has_max, torch.ones_like(mx), mx)
    mn = torch.where(has_min, -torch.ones_like(mn), mn)
    wide = (hi - lo) >= TWO_PI
    mx = torch.where(wide, torch.ones_like(mx), mx)
    mn = torch.where(wide, -torch.ones_like(mn), mn)
    pad = 4 * EPS64
    return (mn - pad).clamp_min(-1.0), (mx + pad).clamp_max(1.0)


class _Evaluator:
    """Point and interval forward passes of one network along one encoded line (float64)."""

    def __init__(self, net: ReluNetwork, line: tuple[Tensor, Tensor, Tensor]):
        self.net = net.detach().to(dtype=torch.float64)
        self.m, self.o, self.periodic = line
        self.abs_w = [w.abs() for w in self.net.weights]
        self.gamma = [(w.shape[1] + 2) * EPS64 for w in self.net.weights]
        self.widths = self.net.hidden_widths
        self.offsets = [0]
        for w in self.widths:
            self.offsets.append(self.offsets[-1] + w)

    # -- point values: z of every hidden layer at the points t [P] -> list of [P, out_l]
    def layers(self, t: Tensor) -> list[Tensor]:
        u = t[:, None] * self.m + self.o
        x = torch.where(self.periodic, torch.sin(u), u)
        net, a, zs = self.net, x, []
        for l in range(net.depth):
            inp = torch.cat([a, net.skip_input(l, x)], dim=1) if net.input_skips[l] else a
            z = inp @ net.weights[l].T
            if net.biases[l] is not None:
                z = z + net.biases[l]
            zs.append(z)
            s = net.slopes[l]
            new_a = torch.where(z > 0, z, s * z)
            a = new_a + a if net.residual[l] else new_a
        return zs

    def points(self, t: Tensor) -> Tensor:
        """z of every hidden neuron at the points t: [P, H]."""
        return torch.cat(self.layers(t), dim=1)

    def _affine_interval(self, l: int, lo: Tensor, hi: Tensor, bias: bool) -> tuple[Tensor, Tensor]:
        w, aw = self.net.weights[l], self.abs_w[l]
        c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
        zc = c @ w.T
        mag = (c.abs() + r) @ aw.T
        b = self.net.biases[l] if bias else None
        if b is not None:
            zc = zc + b
            mag = mag + b.abs()
        zr = torch.addmm(self.gamma[l] * mag, r, aw.T)
        return zc - zr, zc + zr

    # -- one interval pass over the cells [a, b]: (constant bit, strictly monotone) [C, H]
    def resolve(self, a: Tensor, b: Tensor, z_a: Tensor, z_b: Tensor,
                z_m: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(constant, monotone, differ)`` bool [C, H] on the cells [a, b] given z at a, b and
        the midpoint ([C, H] each): value bounds certify a constant bit; derivative bounds
        exclude 0; the bits at a and b differ."""
        half = (0.5 * (b - a))[:, None]
        m, o, per = self.m, self.o, self.periodic
        ua, ub = a[:, None] * m + o, b[:, None] * m + o
        u_lo, u_hi = torch.minimum(ua, ub), torch.maximum(ua, ub)
        upad = 4 * EPS64 * torch.maximum(u_lo.abs(), u_hi.abs())
        u_lo, u_hi = u_lo - upad, u_hi + upad
        s_lo, s_hi = _sin_range(u_lo, u_hi)
        c_lo, c_hi = _sin_range(u_lo + math.pi / 2, u_hi + math.pi / 2)   # cos
        x_lo = torch.where(per, s_lo, u_lo)
        x_hi = torch.where(per, s_hi, u_hi)
        dm_lo = torch.minimum(m * c_lo, m * c_hi)
        dm_hi = torch.maximum(m * c_lo, m * c_hi)
        dx_lo = torch.where(per, dm_lo, m.expand_as(dm_lo))
        dx_hi = torch.where(per, dm_hi, m.expand_as(dm_hi))

        net = self.net
        a_lo, a_hi, da_lo, da_hi = x_lo, x_hi, dx_lo, dx_hi
        constant, monotone, differ = [], [], []
        for l in range(net.depth):
            if net.input_skips[l]:
                i_lo = torch.cat([a_lo, net.skip_input(l, x_lo)], 1)
                i_hi = torch.cat([a_hi, net.skip_input(l, x_hi)], 1)
                di_lo = torch.cat([da_lo, net.skip_input(l, dx_lo)], 1)
                di_hi = torch.cat([da_hi, net.skip_input(l, dx_hi)], 1)
            else:
                i_lo, i_hi, di_lo, di_hi = a_lo, a_hi, da_lo, da_hi
            z_lo, z_hi = self._affine_interval(l, i_lo, i_hi, bias=True)
            dz_lo, dz_hi = self._affine_interval(l, di_lo, di_hi, bias=False)
            # mean-value form around the midpoint, then the tighter of the two enclosures
            cols = slice(self.offsets[l], self.offsets[l + 1])
            zm = z_m[:, cols]
            spread = torch.maximum(dz_lo.abs(), dz_hi.abs()).mul_(half)
            spread.add_(self.gamma[l] * (zm.abs() + spread))
            z_lo = torch.maximum(z_lo, zm - spread)
            z_hi = torch.minimum(z_hi, zm + spread)
            bit_differ = (z_a[:, cols] > 0) != (z_b[:, cols] > 0)
            pos, nonpos = z_lo > 0, z_hi <= 0
            constant.append((pos | nonpos) & ~bit_differ)
            monotone.append((dz_lo > 0) | (dz_hi < 0))
            differ.append(bit_differ)
            if l == net.depth - 1:
                break
            s = net.slopes[l]
            if 0.0 <= s <= 1.0:
                # act(z) = max(z, s z) is nondecreasing: its range is [act(lo), act(hi)]; its
                # slope is 1 (z > 0), s (z <= 0), or anything between where z can be either
                new_lo, new_hi = torch.maximum(z_lo, s * z_lo), torch.maximum(z_hi, s * z_hi)
                nd_lo = torch.where(pos, dz_lo, torch.where(nonpos, s * dz_lo,
                                                            torch.minimum(dz_lo, s * dz_lo)))
                nd_hi = torch.where(pos, dz_hi, torch.where(nonpos, s * dz_hi,
                                                            torch.maximum(dz_hi, s * dz_hi)))
            else:
                act_lo = torch.where(z_lo > 0, z_lo, s * z_lo)
                act_hi = torch.where(z_hi > 0, z_hi, s * z_hi)
                straddle = ~(pos | nonpos)
                zero = torch.zeros_like(act_lo)
                new_lo = torch.minimum(act_lo, act_hi)
                new_hi = torch.maximum(act_lo, act_hi)
                new_lo = torch.where(straddle, torch.minimum(new_lo, zero), new_lo)
                new_hi = torch.where(straddle, torch.maximum(new_hi, zero), new_hi)
                corners = torch.stack([dz_lo, dz_hi, s * dz_lo, s * dz_hi])
                nd_lo = torch.where(pos, dz_lo, torch.where(
                    nonpos, torch.minimum(s * dz_lo, s * dz_hi), corners.min(0).values))
                nd_hi = torch.where(pos, dz_hi, torch.where(
                    nonpos, torch.maximum(s * dz_lo, s * dz_hi), corners.max(0).values))
            if net.residual[l]:
                new_lo, new_hi = new_lo + a_lo, new_hi + a_hi
                nd_lo, nd_hi = nd_lo + da_lo, nd_hi + da_hi
            a_lo, a_hi, da_lo, da_hi = new_lo, new_hi, nd_lo, nd_hi
        cat = lambda xs: torch.cat(xs, dim=1)   # noqa: E731
        return cat(constant), cat(monotone), cat(differ)


# ----------------------------------------------------------------------------- the counter


def _illinois(ev: _Evaluator, a: Tensor, b: Tensor, neuron: Tensor, tol: float,
              max_iter: int = 200) -> Tensor:
    """Points where neuron[k]'s bit changes in [a[k], b[k]] (one strictly monotone change)."""
    if a.numel() == 0:
        return a
    fa = ev.points(a).gather(1, neuron[:, None])[:, 0]
    fb = ev.points(b).gather(1, neuron[:, None])[:, 0]
    root = torch.where(fa == 0, a, torch.where(fb == 0, b, torch.full_like(a, float("nan"))))
    side = torch.zeros_like(a, dtype=torch.int8)   # last endpoint replaced: -1 left, +1 right
    for _ in range(max_iter):
        todo = root.isnan() & ((b - a) > tol)
        if not bool(todo.any()):
            break
        c = (a * fb - b * fa) / (fb - fa)
        bad = ~((c > a) & (c < b))
        c = torch.where(bad, 0.5 * (a + b), c)
        fc = ev.points(c).gather(1, neuron[:, None])[:, 0]
        hit = todo & (fc == 0)
        root = torch.where(hit, c, root)
        left = todo & ~hit & ((fc > 0) == (fa > 0))   # c replaces a
        right = todo & ~hit & ~left
        # Illinois: halve the value kept on the side that was not replaced twice in a row
        fb = torch.where(left & (side == -1), 0.5 * fb, fb)
        fa = torch.where(right & (side == 1), 0.5 * fa, fa)
        a, fa = torch.where(left, c, a), torch.where(left, fc, fa)
        b, fb = torch.where(right, c, b), torch.where(right, fc, fb)
        side = torch.where(left, torch.full_like(side, -1), torch.where(right, torch.ones_like(side), side))
    return torch.where(root.isnan(), 0.5 * (a + b), root)


@torch.no_grad()
def certified_regions_1d(net: ReluNetwork, encoding: LineEncoding = None, lo: float = 0.0,
                         hi: float = 1.0, *, min_width: Optional[float] = None,
                         initial_cells: Optional[int] = None, chunk: int = 4096,
                         root_tol: Optional[float] = None,
                         merge_tol: Optional[float] = None) -> CertifiedRegions1D:
    """Certified breakpoints and region count of ``net`` on the segment [lo, hi) of 1D
    coordinates seen through ``encoding`` (an Encoding, an affine-sine triple, or None for raw).

    ``net`` is a ReluNetwork (``ReluNetwork.of(weights, biases)`` for lists). ``min_width`` (default
    ``1e-12 * (hi - lo)``) is the narrowest cell that is still split; ``root_tol`` (default
    ``1e-14 * (hi - lo)``) the bracket width of each located breakpoint and ``merge_tol``
    (default ``4 * root_tol``) the distance under which changes of different neurons are one
    breakpoint. The segment starts as ``initial_cells`` equal cells (default: 32 per hidden
    neuron, within 256..16384); ``chunk`` cells are bounded per vectorised pass. Costs about 7 CPU-seconds (one thread) for a 4x128 MLP with PE L=7 on
    [0, 1), 11.6k breakpoints.
    """
    net = require_network(net)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"lo, hi: expected finite lo < hi, got ({lo}, {hi})")
    span = hi - lo
    min_width = 1e-12 * span if min_width is None else float(min_width)
    if not min_width > 0:
        raise ValueError(f"min_width: expected a width > 0, got {min_width}")
    root_tol = 1e-14 * span if root_tol is None else float(root_tol)
    merge_tol = 4 * root_tol if merge_tol is None else float(merge_tol)
    if initial_cells is None:
        initial_cells = min(16384, max(256, 32 * net.num_hidden))
    if int(initial_cells) < 1 or int(chunk) < 1:
        raise ValueError(f"initial_cells, chunk: expected ints >= 1, got {initial_cells}, {chunk}")
    chunk = int(chunk)
    device = net.device
    ev = _Evaluator(net, _line(encoding, net))
    f64 = dict(dtype=torch.float64, device=device)

    edges = torch.linspace(lo, hi, int(initial_cells) + 1, **f64)
    todo_a, todo_b = edges[:-1], edges[1:]
    z_edges = torch.cat([ev.points(edges[s:s + chunk]) for s in range(0, edges.numel(), chunk)])
    todo_za, todo_zb = z_edges[:-1], z_edges[1:]    # z at the cell ends, reused by the halves
    cross_a, cross_b, cross_n, cross_cell = [], [], [], []
    unres_a, unres_b, unres_change = [], [], []
    evaluated, cell_id = 0, 0
    while todo_a.numel():
        next_a, next_b, next_za, next_zb = [], [], [], []
        for s in range(0, todo_a.numel(), chunk):
            a, b = todo_a[s:s + chunk], todo_b[s:s + chunk]
            za, zb = todo_za[s:s + chunk], todo_zb[s:s + chunk]
            evaluated += a.numel()
            mid = 0.5 * (a + b)
            zm = ev.points(mid)
            constant, monotone, differ = ev.resolve(a, b, za, zb, zm)
            resolved = constant | monotone
            done = resolved.all(dim=1)
            final = ~done & ((b - a) * 0.5 < min_width)
            keep = done | final
            crossing = monotone & differ & keep[:, None]
            cell, neuron = crossing.nonzero(as_tuple=True)
            cross_a.append(a[cell]), cross_b.append(b[cell]), cross_n.append(neuron)
            cross_cell.append(cell + cell_id)
            ids = final.nonzero(as_tuple=True)[0]
            unres_a.append(a[ids]), unres_b.append(b[ids])
            # a change strictly inside the cell (z != 0 at both ends: not a change at an end)
            inner = differ & (za != 0) & (zb != 0)
            unres_change.append(((~resolved) & inner)[ids].any(dim=1))
            unres_cell = ids + cell_id
            unres_change[-1] = torch.stack([unres_change[-1].to(torch.int64), unres_cell], 1)
            cell_id += a.numel()
            split = ~keep
            sm, zsm = mid[split], zm[split]
            next_a += [a[split], sm]
            next_b += [sm, b[split]]
            next_za += [za[split], zsm]
            next_zb += [zsm, zb[split]]
        todo_a, todo_b = torch.cat(next_a), torch.cat(next_b)
        todo_za, todo_zb = torch.cat(next_za), torch.cat(next_zb)

    ca, cb, cn, cc = (torch.cat(x) for x in (cross_a, cross_b, cross_n, cross_cell))
    roots = _illinois(ev, ca, cb, cn, root_tol)
    inside = (roots > lo) & (roots < hi)
    roots, cc = roots[inside], cc[inside]
    order = torch.argsort(roots)
    roots, cc = roots[order], cc[order]
    if roots.numel():
        new = torch.ones_like(roots, dtype=torch.bool)
        new[1:] = (roots[1:] - roots[:-1]) > merge_tol
        breakpoints = roots[new]
    else:
        breakpoints = roots
    ua, ub = torch.cat(unres_a), torch.cat(unres_b)
    change = torch.cat(unres_change) if unres_change else torch.zeros(0, 2, dtype=torch.int64)
    with_root = set(cc.tolist())
    extra = sum(1 for flag, cid in change.tolist() if flag and cid not in with_root)
    unresolved = torch.stack([ua, ub], 1)
    return CertifiedRegions1D(
        count=int(breakpoints.numel()) + 1 + extra, breakpoints=breakpoints,
        unresolved=unresolved, unresolved_length=float((ub - ua).sum()), lo=lo, hi=hi,
        min_width=min_width, cells_evaluated=evaluated)
