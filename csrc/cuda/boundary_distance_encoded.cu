// First-order boundary distance in coordinate space on the GPU, from already encoded points
// x [N, E] and their Jacobian x_jacobian [N, E, D] (any differentiable encoding): the stacked
// forward-mode pass of coord_forward.cuh starts from (x, x_jacobian).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "../common/coord_checks.h"
#include "../common/ieee_float32.h"
#include "coord_forward.cuh"

namespace specbias {
namespace {

std::tuple<at::Tensor, at::Tensor> boundary_distance_encoded_cuda(
    const at::Tensor& x_in, const at::Tensor& x_jacobian_in, at::TensorList weights,
    const BiasList& biases, SlopeList slopes, const FlagList& input_skip,
    const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_encoded_inputs(x_in, x_jacobian_in, net);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const IeeeFloat32Guard ieee;  // float32 GEMMs stay IEEE whatever the TF32 settings
  const at::Tensor x = x_in.contiguous();
  const at::Tensor x_jacobian = x_jacobian_in.contiguous();
  return coord_forward::boundary_distance_chunks(
      x.size(0), x_jacobian.size(2), x.size(1), net, x.options(), [&](int64_t r0, int64_t rows) {
        return coord_forward::stack_encoded(x.narrow(0, r0, rows),
                                            x_jacobian.narrow(0, r0, rows));
      });
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) {
  m.impl("boundary_distance_encoded", &boundary_distance_encoded_cuda);
}

}  // namespace specbias
