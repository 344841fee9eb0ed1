"""Fixed inputs and calls of every torch.ops.specbias op, for comparing two builds of the library.

Imports nothing from specbias_ext, so a process that loaded only the CMake-built library can run
it (`python op_cases.py LIB OUT` saves the results of every case to OUT).
"""
from __future__ import annotations

import sys

import torch


def _mlp(gen, dims, dtype=torch.float64):
    weights = [torch.randn(dims[l + 1], dims[l], generator=gen, dtype=dtype) / dims[l] ** 0.5
               for l in range(len(dims) - 1)]
    biases = [0.1 * torch.randn(dims[l + 1], generator=gen, dtype=dtype)
              for l in range(len(dims) - 1)]
    return weights, biases


def run_cases(ops) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1234)
    n = 300
    weights, biases = _mlp(gen, [2, 70, 65, 3])
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    grad_out = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    i = torch.randint(0, n, (100,), generator=gen)
    j = torch.randint(0, n, (100,), generator=gen)
    out = {}
    patterns = ops.activation_patterns(x, weights, biases)
    out["activation_patterns"] = patterns
    ids, counts = ops.region_ids(patterns)
    out["region_ids.ids"], out["region_ids.counts"] = ids, counts
    out["hamming_pairs"] = ops.hamming_pairs(patterns, i, j)
    out["hamming_pairs.segments"] = ops.hamming_pairs(patterns, i, j, [0, 70, 135])
    for axis, d in enumerate(ops.hamming_neighbors(patterns, [15, 20])):
        out[f"hamming_neighbors.{axis}"] = d
    out["bit_counts"] = ops.bit_counts(patterns, 135)
    out["per_example_grad_norms"] = ops.per_example_grad_norms(x, weights, biases, grad_out)
    out["grad_dots"] = ops.grad_dots(x, weights, biases, grad_out, i, j)
    out["grad_gram"] = ops.grad_gram(x, weights, biases, grad_out, i[:20], j[:30])
    norm_of_sum, sum_of_norms = ops.region_grad_norms(x, weights, biases, grad_out, ids,
                                                      int(counts.numel()))
    out["region_grad_norms.norm_of_sum"] = norm_of_sum
    out["region_grad_norms.sum_of_norms"] = sum_of_norms
    # Geometry: raw 2D coordinates (identity encoding) and a 2-level positional encoding.
    eye = torch.eye(2, dtype=torch.float64)
    no_offset = torch.zeros(2, dtype=torch.float64)
    not_periodic = torch.zeros(2, dtype=torch.bool)
    dist, argmin = ops.boundary_distance(x, eye, no_offset, not_periodic, weights, biases)
    out["boundary_distance.distance"], out["boundary_distance.argmin"] = dist, argmin
    pe_matrix = torch.tensor([[1.0, 0], [1, 0], [2, 0], [2, 0], [0, 1], [0, 1], [0, 2], [0, 2]],
                             dtype=torch.float64) * torch.pi
    pe_offset = torch.tensor([0, torch.pi / 2] * 4, dtype=torch.float64)
    pe_weights, pe_biases = _mlp(gen, [8, 40, 3])
    out["coord_gradients"] = ops.coord_gradients(x, pe_matrix, pe_offset,
                                                 torch.ones(8, dtype=torch.bool), pe_weights,
                                                 pe_biases)
    return out


if __name__ == "__main__":
    lib, dest = sys.argv[1], sys.argv[2]
    torch.ops.load_library(lib)
    torch.save(run_cases(torch.ops.specbias), dest)
