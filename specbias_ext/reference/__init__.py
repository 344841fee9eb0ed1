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
from .regions import bit_counts, hamming_neighbors, hamming_pairs, region_ids
