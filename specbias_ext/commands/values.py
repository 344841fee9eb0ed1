"""The values a user types on the command line, parsed and checked before any work starts: each
refusal is a ValueError naming the flag and what was expected (argparse turns the ``*_arg``
types' errors into ``specbias <cmd>: error: argument --flag: ...``)."""
from __future__ import annotations

import argparse
import math
import re
from typing import Optional

import torch

from ..nets.encodings import PHASE_TOLERANCE

#: Seeds go to torch.Generator.manual_seed, which takes a signed 64-bit integer.
MAX_SEED = 2**63 - 1
#: Largest count a flag takes (an int64 with room for index arithmetic, as the grids allow).
MAX_COUNT = 2**62
#: Coordinates are float32 on the grids: a range beyond it has no points.
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def count_arg(minimum: int):
    """An argparse type: an int in [minimum, 2**62)."""
    def parse(text: str) -> int:
        value = _int(text)
        if not minimum <= value < MAX_COUNT:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum} (and below "
                                             f"2**62), got {text}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


def seed_arg(text: str) -> int:
    """An argparse type: a seed in [0, 2**63 - 1] (what torch's generators take)."""
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**63-1, got {text}")
    return value


def positive_float_arg(text: str) -> float:
    """An argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def parse_range(text: str, flag: str = "--range") -> tuple[float, float]:
    """``"lo,hi"`` -> (lo, hi): finite, lo < hi, both within float32 (the grids' coordinates)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected lo,hi such as 0,1 or -1,1") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{flag} {text!r}: expected finite numbers")
    if not hi > lo:
        raise ValueError(f"{flag} {text!r}: expected lo < hi")
    if max(abs(lo), abs(hi)) > FLOAT32_MAX:
        raise ValueError(f"{flag} {text!r}: the grid's coordinates are float32, whose largest "
                         f"value is {FLOAT32_MAX:.3g}; give a range within it")
    if not math.isfinite(float(torch.tensor(hi, dtype=torch.float32)
                               - torch.tensor(lo, dtype=torch.float32))):
        raise ValueError(f"{flag} {text!r}: its width hi - lo overflows float32; give a "
                         "narrower range")
    return lo, hi


_ENCODING_SIZE = re.compile(r"^\s*(pe|rff)\s*:\s*(-?\d+)\s*(?::.*)?$", re.IGNORECASE)


def encoding_features(spec: str, coord_dim: int) -> int:
    """How many features ``spec`` gives ``coord_dim`` coordinates (2 L D for pe:L, 2 m for
    rff:m), read off the text *before* the encoding is built (an rff:m encoding allocates its
    m x D matrix when built); the coordinate dimension for raw or an unknown spec, whose errors
    are left to the encoding itself."""
    match = _ENCODING_SIZE.match(spec or "")
    if not match:
        return coord_dim
    kind, number = match.group(1).lower(), int(match.group(2))
    return 2 * number * coord_dim if kind == "pe" else 2 * number


def precision_problem(encoding, coord_range=None) -> Optional[str]:
    """Why no float carries an encoding's phases, or None when they are carried: one coordinate
    step of float64 (at the largest coordinate of ``coord_range``, else of [1, 2)) moves the
    phase of its fastest row by more than the encodings' phase tolerance, so its top rows are
    rounding noise."""
    rate = encoding.max_phase_rate()
    if rate == 0.0:
        return None
    top = max(2.0, *(abs(v) for v in coord_range)) if coord_range else 2.0
    # the float64 spacing just below ``top`` (every coordinate of the range is at most that)
    quantum = rate * math.ulp(math.nextafter(top, 0.0))
    if quantum <= PHASE_TOLERANCE:
        return None
    where = f" at coordinates up to {top:.3g}" if coord_range else ""
    return (f"the encoding's fastest feature turns {rate:.3g} rad per unit, so one float64 step "
            f"of a coordinate{where} moves its phase by {quantum:.3g} rad, more than the "
            f"{PHASE_TOLERANCE:g} rad the encodings allow: no float carries those phases")
