// Sampled local complexity from the patterns of a grid, on the GPU (common/grid_hull.h): one
// thread per inner point, the plan's vertex offsets and word masks in device memory.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/grid_hull.h"
#include "tiling.cuh"

namespace specbias {
namespace {

using cuda::kThreads;

struct GridShape {
  int64_t shape[kGridAxes], inner[kGridAxes], steps[kGridAxes];
};

__global__ void grid_complexity_kernel(const uint64_t* __restrict__ rows, int64_t words,
                                       GridShape grid, const int64_t* __restrict__ offsets,
                                       int64_t vertices, const int64_t* __restrict__ mask_word,
                                       const int64_t* __restrict__ mask_segment,
                                       const uint64_t* __restrict__ mask_bits, int64_t masks,
                                       int64_t points, int64_t segments,
                                       int32_t* __restrict__ out) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= points) return;
  hull_counts(rows, words, inner_point_row(e, grid.shape, grid.inner, grid.steps), offsets,
              vertices, mask_word, mask_segment, mask_bits, masks, out + e * segments, segments);
}

at::Tensor grid_complexity_cuda(const at::Tensor& patterns_in, at::IntArrayRef grid_shape,
                                at::IntArrayRef steps, bool include_centre,
                                at::IntArrayRef segments) {
  const c10::cuda::CUDAGuard guard(patterns_in.device());
  GridComplexityCall call =
      prepare_grid_complexity(patterns_in, grid_shape, steps, include_centre, segments);
  if (call.empty()) return call.out;
  const GridHullPlan& plan = call.plan;
  const at::Tensor& patterns = call.patterns;
  const int64_t points = plan.inner_points();
  const int64_t masks = static_cast<int64_t>(plan.mask_word.size());
  // The plan in one int64 tensor: offsets, mask words, mask segments, mask bits.
  std::vector<int64_t> host(plan.offsets);
  host.insert(host.end(), plan.mask_word.begin(), plan.mask_word.end());
  host.insert(host.end(), plan.mask_segment.begin(), plan.mask_segment.end());
  for (uint64_t bits : plan.mask_bits) host.push_back(static_cast<int64_t>(bits));
  const at::Tensor device_plan =
      at::tensor(host, at::TensorOptions().dtype(at::kLong)).to(patterns.device());
  const int64_t* p = device_plan.data_ptr<int64_t>();
  const int64_t vertices = static_cast<int64_t>(plan.offsets.size());
  GridShape grid;
  for (int a = 0; a < kGridAxes; ++a) {
    grid.shape[a] = plan.shape[a];
    grid.inner[a] = plan.inner[a];
    grid.steps[a] = plan.steps[a];
  }
  grid_complexity_kernel<<<(points + kThreads - 1) / kThreads, kThreads, 0,
                           at::cuda::getCurrentCUDAStream()>>>(
      reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>()), patterns.size(1), grid,
      p, vertices, p + vertices, p + vertices + masks,
      reinterpret_cast<const uint64_t*>(p + vertices + 2 * masks), masks, points, call.segments,
      call.out.data_ptr<int32_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("grid_complexity", &grid_complexity_cuda); }

}  // namespace specbias
