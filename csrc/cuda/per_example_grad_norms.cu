// Per-example squared gradient norms by layer on the GPU: chunks of points, a cuBLAS forward and
// backward pass per chunk (grad_features), then one warp per row and layer computes
// ||delta_l||^2 (||a_{l-1}||^2 + 1) in float64.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/mlp_checks.h"
#include "grad_kernels.cuh"

namespace specbias {
namespace {

constexpr int64_t kChunkBytes = int64_t(256) << 20;

at::Tensor per_example_grad_norms_cuda(const at::Tensor& x_in, at::TensorList weights,
                                       at::TensorList biases, const at::Tensor& grad_out_in) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  check_grad_op_inputs(x_in, weights, biases, grad_out_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t layers = static_cast<int64_t>(weights.size());
  at::Tensor out = at::empty({n, layers}, x.options());
  if (n == 0) return out;
  const int64_t chunk = cuda::chunk_rows(weights, x.element_size(), kChunkBytes);
  at::Tensor acc = at::empty({std::min(chunk, n), layers}, x.options().dtype(at::kDouble));
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const GradFeatures f = compute_features(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows),
                                            weights, biases, rows, false);
    at::Tensor acc_rows = acc.narrow(0, 0, rows);
    cuda::accumulate_layer_products(f, rows, 0, acc_rows, true);
    out.narrow(0, r0, rows).copy_(acc_rows);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) {
  m.impl("per_example_grad_norms", &per_example_grad_norms_cuda);
}

}  // namespace specbias
