// Hamming distance from each grid point to its next neighbour along each axis, on the CPU.
// Rows of the patterns are the grid points in row-major order.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/bit_utils.h"
#include "../common/mlp_checks.h"
#include "../common/pattern_checks.h"

namespace specbias {
namespace {

constexpr int64_t kNeighborGrain = 4096;

// Output element o of an axis pairs row a = (o / inner_out) * inner_in + o % inner_out with
// row a + step: for the last axis inner_out = W - 1, inner_in = W, step = 1; for the first axis
// of a 2D grid inner_out = inner_in = W, step = W.
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
  const int64_t width = grid_shape.back();

  std::vector<at::Tensor> outs;
  for (const auto& shape : neighbor_shapes(grid_shape)) {
    outs.push_back(at::empty(shape, patterns.options()));
  }
  if (grid_shape.size() == 2 && outs[0].numel() > 0) {
    neighbor_distances(rows, words, width, width, width, outs[0]);
  }
  at::Tensor& last = outs.back();
  if (last.numel() > 0) neighbor_distances(rows, words, width - 1, width, 1, last);
  return outs;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("hamming_neighbors", &hamming_neighbors_cpu); }

}  // namespace specbias
