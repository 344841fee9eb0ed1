// Hamming distance from each grid point to its next neighbour along each axis, on the CPU.
// Rows of the patterns are the grid points in row-major order.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kNeighborGrain;

// Axis a of a grid with `inner` points per step along it (the product of the later sizes) and
// `size` points on it: output element e pairs row r = (e / inner_out) * inner_in + e % inner_out
// with row r + inner, where inner_out = (size - 1) * inner and inner_in = size * inner.
void neighbor_distances(const uint64_t* rows, int64_t words, int64_t inner_out, int64_t inner_in,
                        int64_t step, at::Tensor& out) {
  int64_t* o = out.data_ptr<int64_t>();
  at::parallel_for(0, out.numel(), kNeighborGrain, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t a = (e / inner_out) * inner_in + e % inner_out;
      o[e] = xor_popcount_row(rows + a * words, rows + (a + step) * words, words);
    }
  });
}

std::vector<at::Tensor> hamming_neighbors_cpu(const at::Tensor& patterns_in,
                                              at::IntArrayRef grid_shape) {
  check_patterns(patterns_in);
  check_grid_shape(grid_shape, patterns_in.size(0));
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t words = patterns.size(1);
  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());

  std::vector<at::Tensor> outs;
  for (const auto& shape : neighbor_shapes(grid_shape)) {
    outs.push_back(at::empty(shape, patterns.options()));
  }
  for (size_t axis = 0; axis < grid_shape.size(); ++axis) {
    if (outs[axis].numel() == 0) continue;
    int64_t inner = 1;
    for (size_t b = axis + 1; b < grid_shape.size(); ++b) inner *= grid_shape[b];
    const int64_t size = grid_shape[axis];
    neighbor_distances(rows, words, (size - 1) * inner, size * inner, inner, outs[axis]);
  }
  return outs;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("hamming_neighbors", &hamming_neighbors_cpu); }

}  // namespace specbias
