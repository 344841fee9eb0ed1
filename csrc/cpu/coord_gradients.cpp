// Gradient of the network output w.r.t. the coordinates on the CPU, from coordinates and an
// encoding in affine-sine form: the forward-mode pass of coord_forward.h through the hidden
// layers, then the head applied to the tangent rows only.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/coord_checks.h"
#include "coord_forward.h"

namespace specbias {
namespace {

at::Tensor coord_gradients_cpu(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                               const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                               at::TensorList weights,
                               const BiasList& biases, SlopeList slopes, const FlagList& input_skip,
                               const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  const auto layers = layer_plan(net, /*contiguous=*/true);
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "coord_gradients_cpu", [&] {
    out = coord_forward::coord_gradients_tiles<scalar_t>(
        coords.size(0), coords.size(1), coords.options(), layers, [&](int64_t r0, int64_t rows) {
          return coord_forward::stack_affine_sine<scalar_t>(coords.narrow(0, r0, rows), matrix,
                                                            offset, periodic);
        });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("coord_gradients", &coord_gradients_cpu); }

}  // namespace specbias
