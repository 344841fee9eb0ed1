"""Plain-torch reference versions of every op: slow, obviously right, used by the tests.

They follow the definitions literally (dense bit matrices, materialised per-example gradients,
explicit loops where that is clearest) and are not meant for large grids. They take the network
as the ops do, a ``ReluNetwork``, with the same refusals (a non-network, an input of the wrong
width).
"""
from .patterns import (
    activation_patterns, hidden_preactivations, pack_bits, pattern_bits, unpack_bits,
)
from .regions import bit_counts, hamming_neighbors, hamming_pairs, region_ids
from .gradients import (
    confusion_from_gram, flat_per_example_grads, grad_dots, grad_gram, per_example_grad_norms,
    per_example_grads, region_grad_norms,
)
from .geometry import (
    boundary_distance, boundary_distance_encoded, boundary_distance_through, coord_gradients,
    coord_gradients_encoded, coord_gradients_through, encode_affine_sine, neuron_distances_encoded,
    neuron_distances_through,
)
from .complexity import (
    first_order_complexity, first_order_complexity_encoded, grid_complexity, local_complexity,
    local_complexity_encoded,
)
