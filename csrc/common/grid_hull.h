// Local complexity on a grid of patterns: the hull of a grid point is made of grid points (its
// neighbours `steps[d]` points away along each axis d, and the point itself with
// include_centre), so every vertex pattern is computed once for the whole grid and each point
// only combines rows. A bit counts when it is not the same at all of a point's vertices:
// OR(vertices) & ~AND(vertices), popcounted per segment of bits (a hidden layer).
// The plan is built on the host and read by the CPU and CUDA kernels of grid_complexity.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bit_utils.h"
#include "complexity_checks.h"

namespace specbias {

// A grid of up to 3 axes, padded in front with axes of one point and no step.
constexpr int kGridAxes = 3;

struct GridHullPlan {
  int64_t shape[kGridAxes];   // points per axis of the grid of patterns
  int64_t inner[kGridAxes];   // per axis the points with their whole hull inside: shape - 2 steps
  int64_t steps[kGridAxes];
  std::vector<int64_t> offsets;       // row offset of each vertex from its point
  // One entry per (word, segment) pair that shares bits: the bits of `word` that belong to
  // `segment`. Segments are consecutive, so the entries come in word order and a kernel
  // combines each word's vertices once.
  std::vector<int64_t> mask_word, mask_segment;
  std::vector<uint64_t> mask_bits;

  int64_t inner_points() const { return inner[0] * inner[1] * inner[2]; }
};

// grid_shape and steps as checked by check_grid_hull_inputs; segments as by check_segments.
inline GridHullPlan grid_hull_plan(at::IntArrayRef grid_shape, at::IntArrayRef steps,
                                   bool include_centre, at::IntArrayRef segments) {
  GridHullPlan plan;
  const int pad = kGridAxes - static_cast<int>(grid_shape.size());
  for (int a = 0; a < kGridAxes; ++a) {
    plan.shape[a] = a < pad ? 1 : grid_shape[a - pad];
    plan.steps[a] = a < pad ? 0 : steps[a - pad];
    plan.inner[a] = std::max<int64_t>(0, plan.shape[a] - 2 * plan.steps[a]);
  }
  if (include_centre) plan.offsets.push_back(0);
  int64_t stride = 1;
  for (int a = kGridAxes - 1; a >= 0; --a) {
    if (a >= pad) {
      plan.offsets.push_back(plan.steps[a] * stride);
      plan.offsets.push_back(-plan.steps[a] * stride);
    }
    stride *= plan.shape[a];
  }
  for (size_t s = 0; s + 1 < segments.size(); ++s) {
    const int64_t lo = segments[s], hi = segments[s + 1];
    for (int64_t w = lo >> 6; lo < hi && w <= (hi - 1) >> 6; ++w) {
      uint64_t bits = ~uint64_t(0);
      if (w == (lo >> 6)) bits &= ~uint64_t(0) << (lo & 63);
      if (w == ((hi - 1) >> 6) && (hi & 63) != 0) bits &= (uint64_t(1) << (hi & 63)) - 1;
      plan.mask_word.push_back(w);
      plan.mask_segment.push_back(static_cast<int64_t>(s));
      plan.mask_bits.push_back(bits);
    }
  }
  return plan;
}

// A grid_complexity call after its checks: the contiguous patterns, the plan, and the output
// [inner points, segments] (int32, uninitialised; zero-filled when there is nothing to count).
struct GridComplexityCall {
  at::Tensor patterns;
  GridHullPlan plan;
  int64_t segments;
  at::Tensor out;

  bool empty() const { return out.numel() == 0; }
};

inline GridComplexityCall prepare_grid_complexity(const at::Tensor& patterns,
                                                  at::IntArrayRef grid_shape,
                                                  at::IntArrayRef steps, bool include_centre,
                                                  at::IntArrayRef segments) {
  check_grid_hull_inputs(patterns, grid_shape, steps, segments);
  GridComplexityCall call{patterns.contiguous(),
                          grid_hull_plan(grid_shape, steps, include_centre, segments),
                          static_cast<int64_t>(segments.size()) - 1, at::Tensor()};
  call.out = at::empty({call.plan.inner_points(), call.segments},
                       patterns.options().dtype(at::kInt));
  if (call.empty()) call.out.zero_();
  return call;
}

// The row of the grid of patterns that holds inner point e (row-major over plan.inner).
SPECBIAS_HD int64_t inner_point_row(int64_t e, const int64_t* shape, const int64_t* inner,
                                    const int64_t* steps) {
  const int64_t i2 = e % inner[2];
  const int64_t i1 = (e / inner[2]) % inner[1];
  const int64_t i0 = e / (inner[2] * inner[1]);
  return ((i0 + steps[0]) * shape[1] + (i1 + steps[1])) * shape[2] + (i2 + steps[2]);
}

// counts[0..segments) of the point in `row`: per segment, the bits that differ between some of
// its vertices (rows row + offsets[v]).
SPECBIAS_HD void hull_counts(const uint64_t* rows, int64_t words, int64_t row,
                             const int64_t* offsets, int64_t vertices, const int64_t* mask_word,
                             const int64_t* mask_segment, const uint64_t* mask_bits,
                             int64_t masks, int32_t* counts, int64_t segments) {
  for (int64_t s = 0; s < segments; ++s) counts[s] = 0;
  int64_t word = -1;
  uint64_t differ = 0;
  for (int64_t k = 0; k < masks; ++k) {
    if (mask_word[k] != word) {
      word = mask_word[k];
      uint64_t any = 0, all = ~uint64_t(0);
      for (int64_t v = 0; v < vertices; ++v) {
        const uint64_t x = rows[(row + offsets[v]) * words + word];
        any |= x;
        all &= x;
      }
      differ = any & ~all;
    }
    counts[mask_segment[k]] += static_cast<int32_t>(popcount64(differ & mask_bits[k]));
  }
}

}  // namespace specbias
