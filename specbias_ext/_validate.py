"""Argument checks shared by the Python layer's constructors."""
from __future__ import annotations


def int_at_least(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or ValueError naming ``name`` if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            as_int = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}") from None
        if as_int != value:
            raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
        value = as_int
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value
