// Gradient of the network output w.r.t. the coordinates on the CPU, from already encoded points
// x [N, E] and their Jacobian x_jacobian [N, E, D] (any differentiable encoding): the chain rule
// through the encoding is the stacked forward-mode pass of coord_forward.h started from
// (x, x_jacobian).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/coord_checks.h"
#include "coord_forward.h"

namespace specbias {
namespace {

at::Tensor coord_gradients_encoded_cpu(const at::Tensor& x_in, const at::Tensor& x_jacobian_in,
                                       at::TensorList weights,
                                       const BiasList& biases, SlopeList slopes,
                                       const FlagList& input_skip, const FlagList& residual,
                                       ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_encoded_inputs(x_in, x_jacobian_in, net);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor x_jacobian = x_jacobian_in.contiguous();
  const auto layers = layer_plan(net, /*contiguous=*/true);
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "coord_gradients_encoded_cpu", [&] {
    out = coord_forward::coord_gradients_tiles<scalar_t>(
        x.size(0), x_jacobian.size(2), x.options(), layers, [&](int64_t r0, int64_t rows) {
          return coord_forward::stack_encoded(x.narrow(0, r0, rows),
                                              x_jacobian.narrow(0, r0, rows));
        });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) {
  m.impl("coord_gradients_encoded", &coord_gradients_encoded_cpu);
}

}  // namespace specbias
