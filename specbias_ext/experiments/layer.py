"""The Python-layer functions the experiments use: the real modules of issue #4 when they are
installed, otherwise the stand-ins of ``fallback.py`` (same contract, same numbers)."""
from __future__ import annotations

from . import fallback

try:
    from ..grids import grid_coords
except ImportError:
    grid_coords = fallback.grid_coords

try:
    from ..encodings import make_encoding
except ImportError:
    make_encoding = fallback.make_encoding

try:
    from ..signals import load_image, sum_of_sines
except ImportError:
    load_image, sum_of_sines = fallback.load_image, fallback.sum_of_sines

try:
    from ..samplers import corner_pairs_2d, global_pairs_1d, local_pairs_1d, local_pairs_2d
except ImportError:
    corner_pairs_2d, global_pairs_1d = fallback.corner_pairs_2d, fallback.global_pairs_1d
    local_pairs_1d, local_pairs_2d = fallback.local_pairs_1d, fallback.local_pairs_2d

try:
    from ..results import atomic_save_npz, atomic_write_bytes, atomic_write_json
except ImportError:
    atomic_save_npz, atomic_write_bytes = fallback.atomic_save_npz, fallback.atomic_write_bytes
    atomic_write_json = fallback.atomic_write_json

try:
    from ..spectral import spectral_residual_1d
except ImportError:
    from .measures import spectral_residual_1d

try:
    from ..geometry import boundary_distance as _fused_boundary_distance
except ImportError:
    _fused_boundary_distance = None


def boundary_distance(coords, encoding, weights, biases):
    """Distance [N] to the nearest sign change: the fused geometry op (issue #6) when it and an
    encoding with ``affine_sine()`` are there, else the forward-mode torch version."""
    if _fused_boundary_distance is not None and hasattr(encoding, "affine_sine"):
        return _fused_boundary_distance(coords, encoding, weights, biases)[0]
    from .measures import boundary_distance as torch_boundary_distance
    return torch_boundary_distance(coords, encoding, weights, biases)


def using_fallbacks() -> list[str]:
    """Names of the contract functions currently served by fallback.py."""
    names = ["grid_coords", "make_encoding", "load_image", "sum_of_sines", "local_pairs_1d",
             "global_pairs_1d", "local_pairs_2d", "corner_pairs_2d", "atomic_write_json"]
    return [n for n in names if globals()[n] is getattr(fallback, n)]
