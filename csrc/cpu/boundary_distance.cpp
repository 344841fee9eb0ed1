// First-order boundary distance in coordinate space on the CPU, from coordinates and an encoding
// in affine-sine form: one forward-mode pass per tile of points (values and D tangents stacked,
// see coord_forward.h), the running minimum of |z| / ||dz/dc|| over all hidden neurons kept per
// point. Tiles run in parallel.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "../common/coord_checks.h"
#include "coord_forward.h"

namespace specbias {
namespace {

std::tuple<at::Tensor, at::Tensor> boundary_distance_cpu(
    const at::Tensor& coords_in, const at::Tensor& enc_matrix, const at::Tensor& enc_offset,
    const at::Tensor& enc_periodic, at::TensorList weights,
    const BiasList& biases, SlopeList slopes, const FlagList& input_skip,
    const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  const at::Tensor coords = coords_in.contiguous();
  const int64_t n = coords.size(0);
  const int64_t dims = coords.size(1);
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  const auto layers = layer_plan(net, /*contiguous=*/true);
  std::tuple<at::Tensor, at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "boundary_distance_cpu", [&] {
    out = coord_forward::boundary_distance_tiles<scalar_t>(
        n, dims, coords.options(), layers, [&](int64_t r0, int64_t rows) {
          return coord_forward::stack_affine_sine<scalar_t>(coords.narrow(0, r0, rows), matrix,
                                                            offset, periodic);
        });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("boundary_distance", &boundary_distance_cpu); }

}  // namespace specbias
