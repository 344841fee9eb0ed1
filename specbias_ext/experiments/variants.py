"""The input encodings each experiment compares: one table for every experiment.

A variant is an encoding spec for ``make_encoding`` ("raw", "pe:<L>") and the coordinate range
of the grid; its label ("raw [0,1)", "PE L=4") names it in figures, claims and arrays.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """An input encoding: a spec for make_encoding ("raw", "pe:4", ...) and the grid range."""
    encoding: str
    coord_range: tuple = (0.0, 1.0)

    @property
    def label(self) -> str:
        lo, hi = self.coord_range
        if self.encoding == "raw":
            return f"raw [{lo:g},{hi:g})"
        if self.encoding.startswith("pe:"):
            return f"PE L={self.encoding[3:]}"
        return self.encoding

    def describe(self) -> dict:
        return {"encoding": self.encoding, "coord_range": list(self.coord_range),
                "label": self.label}


RAW01 = Variant("raw", (0.0, 1.0))
RAW11 = Variant("raw", (-1.0, 1.0))


def pe(levels: int) -> Variant:
    return Variant(f"pe:{levels}")


RAW_RANGES = [(0.0, 1.0), (-1.0, 1.0), (-2.0, 2.0), (-3.0, 3.0)]
PE_LEVELS = [4, 8, 12, 16, 20]

_1D = [RAW01, RAW11, pe(4), pe(7)]
_2D = [RAW01, RAW11, pe(1), pe(2), pe(8)]

VARIANTS = {
    "noise-2d": [RAW01, pe(5)],
    "hamming-1d": _1D,
    "confusion-1d": _1D,
    "spectral-1d": _1D,
    "param-norms": _1D,
    "angles": _1D,
    "angles-2d": [RAW01, RAW11, pe(2), pe(8)],
    "regions-2d": _2D,
    "hamming-2d": _2D,
    "confusion-2d": _2D,
    "hamming-layers": [RAW01, pe(8)],
    "dead-neurons": [Variant("raw", r) for r in RAW_RANGES],
    "narrowness": [pe(L) for L in PE_LEVELS],
    "lc-dynamics-1d": [RAW01, RAW11, pe(4)],
    "lc-dynamics-2d": [RAW01, RAW11, pe(8)],
}
