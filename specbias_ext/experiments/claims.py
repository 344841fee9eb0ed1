"""Claims of the paper checked by numbers measured in a run.

A claim is never set by hand: every check below computes an *effect* from the per-seed
measurements it is given (``statistics.difference`` or ``statistics.ratio``, in the claim's own
units), its 95% interval over seeds, and a three-way verdict (``statistics.decide``):

* **held** when the whole interval lies on the claimed side of the threshold,
* **not held** when it lies wholly on the other side,
* **inconclusive** when it contains the threshold (or is undefined: one seed).

A claim made of several comparisons (an ordering, a range) is held when every part is held, not
held when any part is not held, and inconclusive otherwise (``statistics.combine``). A claim that
compares region counts which saturate their grid is inconclusive (``statistics.compare_counts``).
``held`` is True only for the verdict "held".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..runs.provenance import provenance
from ..stats import grid_counts
from ..stats import intervals as S


def stats(values: Sequence[float]) -> dict:
    """Mean and spread of one measurement over seeds."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"),
                "max": float("nan"), "n": 0, "values": []}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size),
            "values": [float(x) for x in v]}


@dataclass
class Claim:
    experiment: str
    id: str
    statement: str          # what the paper says
    expected: str           # the check, in words
    measured: dict          # name -> stats over seeds
    verdict: str            # "held" / "not held" / "inconclusive"
    effect: dict            # the effect: kind, estimate, low, high (95% interval), n, method
    reason: str             # why the verdict (the interval against the threshold)
    source: str = ""        # where in the paper the claim comes from
    note: str = ""
    parts: list = field(default_factory=list)   # per-comparison verdicts of a combined claim

    @property
    def held(self) -> bool:
        return self.verdict == S.HELD

    def to_json(self) -> dict:
        out = asdict(self)
        out["held"] = self.held
        return out


def _effect_json(e: Optional[S.Effect]) -> dict:
    return {} if e is None else e.to_json()


def _single(experiment, cid, statement, expected, measured, verdict: S.Verdict, note,
            source) -> Claim:
    return Claim(experiment, cid, statement, expected, measured, verdict.verdict,
                 _effect_json(verdict.effect), verdict.reason, source, note)


def _combined(experiment, cid, statement, expected, measured, named: list, note,
              source) -> Claim:
    verdicts = [v for _, v in named]
    verdict = S.combine(verdicts)
    # the reported effect is the weakest part (nearest its threshold on the claimed side)
    first = next((v for _, v in named if v.verdict != S.HELD), verdicts[0])
    parts = [{"part": name, **v.to_json()} for name, v in named]
    reason = "; ".join(f"{name}: {v.verdict} ({v.reason})" for name, v in named)
    return Claim(experiment, cid, statement, expected, measured, verdict,
                 _effect_json(first.effect), reason, source, note, parts)


def _effect(a, b=None, kind: str = "difference") -> S.Effect:
    if kind == "ratio":
        return S.ratio(a, b)
    return S.difference(a, b)


def in_range(experiment, cid, statement, name, values, lo, hi, note="", source="") -> Claim:
    """Held when the 95% interval of the mean lies inside [lo, hi]."""
    e = S.difference(values)
    named = [(f"mean > {lo:g}", S.decide(e, lo, "greater")),
             (f"mean < {hi:g}", S.decide(e, hi, "less"))]
    return _combined(experiment, cid, statement, f"mean of {name} in [{lo:g}, {hi:g}]",
                     {name: stats(values)}, named, note, source)


def _ordered(experiment, cid, statement, name_a, values_a, name_b, values_b, note, kind,
             source, direction: str) -> Claim:
    """The effect a - b (or a / b with kind "ratio") against 0 (1), in ``direction``."""
    e = _effect(values_a, values_b, kind)
    op = "-" if kind == "difference" else "/"
    thr = 0.0 if kind == "difference" else 1.0
    sign = ">" if direction == "greater" else "<"
    return _single(experiment, cid, statement, f"{name_a} {op} {name_b} {sign} {thr:g}",
                   {name_a: stats(values_a), name_b: stats(values_b)},
                   S.decide(e, thr, direction), note, source)


def greater(experiment, cid, statement, name_a, values_a, name_b, values_b, note="",
            kind: str = "difference", source="") -> Claim:
    """Held when the effect a - b (or a / b with kind "ratio") is above 0 (1) with 95%."""
    return _ordered(experiment, cid, statement, name_a, values_a, name_b, values_b, note, kind,
                    source, "greater")


def less(experiment, cid, statement, name_a, values_a, name_b, values_b, note="",
         kind: str = "difference", source="") -> Claim:
    """Held when the effect a - b (or a / b) is below 0 (1) with 95%."""
    return _ordered(experiment, cid, statement, name_a, values_a, name_b, values_b, note, kind,
                    source, "less")


def below(experiment, cid, statement, name, values, threshold, note="", source="") -> Claim:
    return _single(experiment, cid, statement, f"mean {name} < {threshold:g}",
                   {name: stats(values)}, S.decide(S.difference(values), threshold, "less"),
                   note, source)


def above(experiment, cid, statement, name, values, threshold, note="", source="") -> Claim:
    return _single(experiment, cid, statement, f"mean {name} > {threshold:g}",
                   {name: stats(values)}, S.decide(S.difference(values), threshold, "greater"),
                   note, source)


def _tie_verdict(e: S.Effect) -> S.Verdict:
    """Verdict of "effect >= 0" (ties allowed): held when the interval's low end is >= 0."""
    if not e.defined:
        return S.Verdict(S.INCONCLUSIVE, e, 0.0, "greater", "one seed: no interval")
    span = f"{e.level:.0%} interval [{e.low:.4g}, {e.high:.4g}]"
    if e.low >= 0:
        return S.Verdict(S.HELD, e, 0.0, "greater", f"{span} lies wholly >= 0")
    if e.high < 0:
        return S.Verdict(S.NOT_HELD, e, 0.0, "greater", f"{span} lies wholly < 0")
    return S.Verdict(S.INCONCLUSIVE, e, 0.0, "greater", f"{span} contains 0")


def ordered(experiment, cid, statement, named_values: Sequence[tuple[str, Sequence[float]]],
            direction: str, strict: bool = True, note="", source="") -> Claim:
    """Held when each consecutive step follows ``direction`` ("increasing" / "decreasing"):
    the paired difference of each step is decided on its own and the parts combined."""
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction: expected 'increasing' or 'decreasing', got {direction!r}")
    measured = {name: stats(v) for name, v in named_values}
    named = []
    for (na, va), (nb, vb) in zip(named_values[:-1], named_values[1:]):
        hi_n, hi_v, lo_n, lo_v = (nb, vb, na, va) if direction == "increasing" else (na, va, nb, vb)
        e = S.difference(hi_v, lo_v)
        v = S.decide(e, 0.0, "greater") if strict else _tie_verdict(e)
        named.append((f"{hi_n} - {lo_n}", v))
    sep = " < " if direction == "increasing" else " > "
    rel = "" if strict else " (ties allowed)"
    return _combined(experiment, cid, statement,
                     f"ordered {sep.join(n for n, _ in named_values)}{rel}", measured, named,
                     note, source)


def counts_greater(experiment, cid, statement, name_a, counts_a: Sequence[grid_counts.GridCount],
                   name_b, counts_b: Sequence[grid_counts.GridCount], note="", source="") -> Claim:
    """Held when region counts a exceed counts b (ratio of geometric means > 1 with 95%);
    inconclusive when any count saturates its grid."""
    v = grid_counts.compare_counts(counts_a, counts_b)
    measured = {name_a: {**stats([g.count for g in counts_a]),
                         "display": [g.display() for g in counts_a],
                         "points": counts_a[0].points},
                name_b: {**stats([g.count for g in counts_b]),
                         "display": [g.display() for g in counts_b],
                         "points": counts_b[0].points}}
    return _single(experiment, cid, statement, f"{name_a} / {name_b} > 1", measured, v, note,
                   source)


def counts_ordered(experiment, cid, statement, named_counts, note="", source="") -> Claim:
    """Counts increasing along ``named_counts`` [(name, [GridCount per seed])]."""
    named = [(f"{nb} / {na}", grid_counts.compare_counts(cb, ca))
             for (na, ca), (nb, cb) in zip(named_counts[:-1], named_counts[1:])]
    measured = {n: {**stats([g.count for g in c]), "display": [g.display() for g in c],
                    "points": c[0].points} for n, c in named_counts}
    return _combined(experiment, cid, statement,
                     "ordered " + " < ".join(n for n, _ in named_counts), measured, named,
                     note, source)


@dataclass
class ClaimTable:
    claims: list = field(default_factory=list)

    def extend(self, claims: Sequence[Claim]) -> None:
        for c in claims:
            if not c.source:
                c.source = SOURCES.get(c.experiment, "")
        self.claims.extend(claims)

    def to_json(self) -> dict:
        verdicts = [c.verdict for c in self.claims]
        return {"claims": [c.to_json() for c in self.claims],
                "held": verdicts.count(S.HELD),
                "not_held": verdicts.count(S.NOT_HELD),
                "inconclusive": verdicts.count(S.INCONCLUSIVE),
                "total": len(self.claims),
                "rule": RULE, "produced_by": _produced_by()}


def _produced_by() -> dict:
    """The provenance of a claims table that may merge runs on several devices (each claim
    names its own): the run's provenance without the device."""
    return {k: v for k, v in provenance().items() if k != "device"}


#: Where in the paper each experiment's claims come from (a claim may name its own source).
SOURCES = {
    "noise-2d": "paper, main text: noise-image experiment",
    "hamming-1d": "paper: 1D Hamming-distance figure (local/global pairs over training)",
    "confusion-1d": "paper: 1D gradient-confusion figure",
    "regions-2d": "paper: linear regions of 2D networks over training",
    "hamming-2d": "paper: 2D Hamming distance (patch / corner pairs)",
    "confusion-2d": "paper: 2D gradient confusion (patch / corner pairs)",
    "hamming-layers": "paper: per-layer Hamming distance, raw vs PE",
    "dead-neurons": "paper: dead neurons for raw inputs on wider ranges",
    "narrowness": "paper: narrowness of regions vs PE levels",
    "param-norms": "paper: parameter norms over training",
    "angles": "paper: hyperplane angles",
    "spectral-1d": "paper: frequency-resolved residual (spectral bias)",
}

RULE = ("Each claim's effect (a difference or a ratio of geometric means, in the claim's "
        "units) has a 95% t interval over seeds (paired when the seeds match). Held: the whole "
        "interval lies on the claimed side of the threshold; not held: wholly on the other "
        "side; inconclusive: it contains the threshold, or there is one seed, or a region "
        "count involved saturates its grid.")
