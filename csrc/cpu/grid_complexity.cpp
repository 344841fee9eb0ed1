// Sampled local complexity from the patterns of a grid, on the CPU (common/grid_hull.h): inner
// points in parallel, each combining its vertices' rows word by word.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/grid_hull.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kNeighborGrain;

at::Tensor grid_complexity_cpu(const at::Tensor& patterns_in, at::IntArrayRef grid_shape,
                               at::IntArrayRef steps, bool include_centre,
                               at::IntArrayRef segments) {
  GridComplexityCall call =
      prepare_grid_complexity(patterns_in, grid_shape, steps, include_centre, segments);
  if (call.empty()) return call.out;
  const GridHullPlan& plan = call.plan;
  const int64_t num_segments = call.segments;
  const int64_t words = call.patterns.size(1);
  const auto* rows = reinterpret_cast<const uint64_t*>(call.patterns.data_ptr<int64_t>());
  int32_t* o = call.out.data_ptr<int32_t>();
  const int64_t masks = static_cast<int64_t>(plan.mask_word.size());
  at::parallel_for(0, plan.inner_points(), kNeighborGrain, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      hull_counts(rows, words, inner_point_row(e, plan.shape, plan.inner, plan.steps),
                  plan.offsets.data(), static_cast<int64_t>(plan.offsets.size()),
                  plan.mask_word.data(), plan.mask_segment.data(), plan.mask_bits.data(), masks,
                  o + e * num_segments, num_segments);
    }
  });
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("grid_complexity", &grid_complexity_cpu); }

}  // namespace specbias
