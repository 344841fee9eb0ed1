"""Plain-torch reference versions of every op: slow, obviously right, used by the tests.

They follow ../shared/DESIGN.md literally (dense bit matrices, materialised per-example
gradients, explicit loops where that is clearest) and are not meant for large grids.
"""
from .patterns import (
    activation_patterns,
    hidden_preactivations,
    pack_bits,
    pattern_bits,
    unpack_bits,
)
from .geometry import boundary_distance, coord_gradients, encode_affine_sine
