"""Typed wrappers of the torch.ops.specbias ops, and their fake kernels for torch.compile.

One module per op family: ``regions`` (activation patterns, region ids, Hamming distances, bit
counts), ``gradients`` (per-example gradient norms, inner products, Gram blocks, per-region
sums), ``geometry`` (the schema-level boundary distance and coordinate gradients, from
coordinates through an encoding in affine-sine form or from encoded points with their Jacobian)
``coordinates`` (the same from coordinates through any encoding) and ``complexity``
(local complexity, sampled on hull vertices or on a grid's own patterns, and first order;
``hull`` draws the hull, ``complexity_coords`` takes any encoding). Every op that runs the
network takes ``(x, net, ...)`` with a ``ReluNetwork``: ``specbias_ext.relu_network(model)``
reads one off a module, ``ReluNetwork.of(weights, biases)`` builds one from lists in nn.Linear
layout. ``x[N, D]`` is what enters the network's first layer (already encoded), float32 or
float64. See ``specbias_ext.reference`` for plain-torch versions.
"""
from . import complexity, complexity_coords, geometry, hull
from .build_info import build_info
from .coordinates import boundary_distance, coord_gradients
from .gradients import grad_dots, grad_gram, per_example_grad_norms, region_grad_norms
from .regions import (
    activation_patterns, bit_counts, hamming_neighbors, hamming_pairs, hamming_pairs_per_layer,
    region_ids,
)

__all__ = [
    "activation_patterns", "bit_counts", "grad_dots", "grad_gram", "hamming_neighbors",
    "hamming_pairs", "hamming_pairs_per_layer", "per_example_grad_norms",
    "region_grad_norms", "region_ids", "geometry", "boundary_distance",
    "build_info", "coord_gradients", "complexity", "complexity_coords", "hull",
]
