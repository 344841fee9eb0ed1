// Hamming distance from each grid point to its next neighbour along each axis, on the GPU: one
// thread per output element. Rows of the patterns are the grid points in row-major order.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.cuh"

namespace specbias {
namespace {

using cuda::kThreads;

// Output element e pairs row a = (e / inner_out) * inner_in + e % inner_out with row a + step.
__global__ void neighbor_kernel(const uint64_t* __restrict__ rows, int64_t words,
                                int64_t inner_out, int64_t inner_in, int64_t step, int64_t total,
                                int64_t* __restrict__ out) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int64_t a = (e / inner_out) * inner_in + e % inner_out;
  out[e] = xor_popcount_row(rows + a * words, rows + (a + step) * words, words);
}

void launch_neighbors(const uint64_t* rows, int64_t words, int64_t inner_out, int64_t inner_in,
                      int64_t step, at::Tensor& out) {
  const int64_t total = out.numel();
  if (total == 0) return;
  neighbor_kernel<<<(total + kThreads - 1) / kThreads, kThreads, 0,
                    at::cuda::getCurrentCUDAStream()>>>(rows, words, inner_out, inner_in, step,
                                                        total, out.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::vector<at::Tensor> hamming_neighbors_cuda(const at::Tensor& patterns_in,
                                               at::IntArrayRef grid_shape) {
  check_patterns(patterns_in);
  check_grid_shape(grid_shape, patterns_in.size(0));
  const c10::cuda::CUDAGuard guard(patterns_in.device());
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t words = patterns.size(1);
  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());

  std::vector<at::Tensor> outs;
  for (const auto& shape : neighbor_shapes(grid_shape)) {
    outs.push_back(at::empty(shape, patterns.options()));
  }
  // Axis a: `inner` points per step along it (the product of the later sizes).
  for (size_t axis = 0; axis < grid_shape.size(); ++axis) {
    int64_t inner = 1;
    for (size_t b = axis + 1; b < grid_shape.size(); ++b) inner *= grid_shape[b];
    const int64_t size = grid_shape[axis];
    launch_neighbors(rows, words, (size - 1) * inner, size * inner, inner, outs[axis]);
  }
  return outs;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("hamming_neighbors", &hamming_neighbors_cuda); }

}  // namespace specbias
