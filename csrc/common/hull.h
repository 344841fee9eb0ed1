// The hull of the sampled local complexity, shared by the CPU and CUDA kernels and restated by
// the Python reference: around a point c [D] with directions s_0..s_{K-1} [K, D] and radius r,
// the V = 2K (+1 with the centre) vertices are, in this order,
//   c + r s_0, ..., c + r s_{K-1}, c - r s_0, ..., c - r s_{K-1}  (, c).
// A vertex is c + offset_v with offset_v = (r s_k, -(r s_k) or 0) computed once per call, so
// each vertex coordinate is one rounded addition on every device (no fused multiply-add that
// one compiler contracts and another does not).
#pragma once

#include <ATen/ATen.h>

namespace specbias {

inline int64_t hull_size(int64_t directions, bool include_centre) {
  return 2 * directions + (include_centre ? 1 : 0);
}

// offsets [V, D] of the vertices from their centre, in the order above.
inline at::Tensor hull_offsets(const at::Tensor& directions, double radius, bool include_centre) {
  const at::Tensor step = directions * radius;
  std::vector<at::Tensor> parts = {step, -step};
  if (include_centre) parts.push_back(at::zeros({1, directions.size(1)}, directions.options()));
  return at::cat(parts, 0).contiguous();
}

}  // namespace specbias
