// Per-example squared gradient norms by layer on the GPU: chunks of points, a cuBLAS forward and
// backward pass per chunk (grad_features), then one warp per row and layer computes
// ||delta_l||^2 (||in_l||^2 + [bias_l]) in float64.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/ieee_float32.h"
#include "../common/network.h"
#include "grad_kernels.cuh"

namespace specbias {
namespace {

at::Tensor per_example_grad_norms_cuda(const at::Tensor& x_in, at::TensorList weights,
                                       const BiasList& biases, const at::Tensor& grad_out_in,
                                       SlopeList slopes, const FlagList& input_skip,
                                       const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const IeeeFloat32Guard ieee;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_op_inputs(x_in, net, grad_out_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t layers = static_cast<int64_t>(weights.size());
  at::Tensor out = at::empty({n, layers}, x.options());
  if (n == 0) return out;
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  const int64_t chunk = cuda::feature_chunk_rows(plan, x.element_size());
  at::Tensor acc = at::empty({std::min(chunk, n), layers}, x.options().dtype(at::kDouble));
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const GradFeatures f = compute_features(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows),
                                            plan, rows, false);
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
