#include "grad_features.h"

#include <ATen/Parallel.h>

namespace specbias {

GradFeatures GradFeatures::narrow(int64_t r0, int64_t n) const {
  GradFeatures f;
  for (const auto& t : inputs) f.inputs.push_back(t.narrow(0, r0, n));
  for (const auto& t : deltas) f.deltas.push_back(t.narrow(0, r0, n));
  return f;
}

GradFeatures alloc_features(int64_t n, const at::TensorOptions& options,
                            at::TensorList weights) {
  const size_t L = weights.size() - 1;
  GradFeatures f;
  f.inputs.emplace_back();
  for (size_t l = 0; l < L; ++l) f.inputs.push_back(at::empty({n, weights[l].size(0)}, options));
  for (size_t l = 0; l < L; ++l) f.deltas.push_back(at::empty({n, weights[l].size(0)}, options));
  f.deltas.emplace_back();
  return f;
}

void forward_backward_into(const at::Tensor& x_rows, const at::Tensor& go_rows,
                           at::TensorList weights, at::TensorList biases, GradFeatures& out) {
  const size_t L = weights.size() - 1;
  out.inputs[0] = x_rows;
  out.deltas[L] = go_rows;
  for (size_t l = 0; l < L; ++l) {
    at::Tensor& a = out.inputs[l + 1];
    at::addmm_out(a, biases[l], out.inputs[l], weights[l].t());
    a.relu_();
  }
  for (size_t l = L; l > 0; --l) {
    at::Tensor& d = out.deltas[l - 1];
    at::mm_out(d, out.deltas[l], weights[l]);
    // a_{l-1} > 0 exactly where z_{l-1} > 0, so the ReLU mask comes from the stored input.
    at::threshold_backward_out(d, d, out.inputs[l], 0);
  }
}

GradFeatures compute_features(const at::Tensor& x, const at::Tensor& grad_out,
                              at::TensorList weights, at::TensorList biases, int64_t tile_rows,
                              bool parallel) {
  const int64_t n = x.size(0);
  GradFeatures f = alloc_features(n, x.options(), weights);
  f.inputs[0] = x;
  f.deltas.back() = grad_out;
  if (n == 0) return f;
  const int64_t tiles = (n + tile_rows - 1) / tile_rows;
  auto run_tiles = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tile_rows;
      const int64_t rows = std::min(tile_rows, n - r0);
      GradFeatures view = f.narrow(r0, rows);
      forward_backward_into(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows), weights,
                            biases, view);
    }
  };
  if (parallel) {
    at::parallel_for(0, tiles, 1, run_tiles);
  } else {
    run_tiles(0, tiles);
  }
  return f;
}

std::pair<at::Tensor, at::Tensor> gather_rows(const at::Tensor& x, const at::Tensor& grad_out,
                                              const at::Tensor& idx) {
  return {x.index_select(0, idx).contiguous(), grad_out.index_select(0, idx).contiguous()};
}

}  // namespace specbias
