// First-order local complexity on the CPU, in the boundary-distance pass: per tile of points the
// stacked value+tangent forward of coord_forward.h; after each hidden layer's GEMM,
// coord_forward::activate_with_tangents folds every neuron's first-order distance
// |z| / ||dz/dc|| into the running minimum (distance and nearest neuron, bit-identical to
// boundary_distance) and counts the same distance against each radius, per layer, before it
// applies the activation and residual.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "../common/complexity_checks.h"
#include "../common/coord_checks.h"
#include "../common/layer_plan.h"
#include "coord_forward.h"
#include "tiling.h"

namespace specbias {
namespace {

using Triple = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// (distance [n], argmin [n], counts [n, L, R]); stack(r0, rows) as in coord_forward.h.
template <typename scalar_t, typename StackFn>
Triple count_tiles(int64_t n, int64_t dims, const Network& net, at::ArrayRef<double> radii_in,
                   const at::TensorOptions& options, const StackFn& stack) {
  const std::vector<LayerPlan> layers = layer_plan(net, /*contiguous=*/true);
  const int64_t hidden = static_cast<int64_t>(net.hidden_layers());
  const int64_t num_radii = static_cast<int64_t>(radii_in.size());
  const std::vector<scalar_t> radii(radii_in.begin(), radii_in.end());
  const scalar_t r_max = *std::max_element(radii.begin(), radii.end());
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), options);
  at::Tensor argmin = at::full({n}, -1, options.dtype(at::kLong));
  at::Tensor counts = at::zeros({n, hidden, num_radii}, options.dtype(at::kInt));
  scalar_t* dist_ptr = dist.data_ptr<scalar_t>();
  int64_t* arg_ptr = argmin.data_ptr<int64_t>();
  int32_t* count_ptr = counts.data_ptr<int32_t>();
  const int64_t tile = cpu::kTileRows;
  const int64_t tiles = (n + tile - 1) / tile;
  at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
    const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tile;
      const int64_t rows = std::min(tile, n - r0);
      const at::Tensor x0 = stack(r0, rows);
      at::Tensor s = x0;
      int64_t first_neuron = 0;
      for (int64_t l = 0; l < hidden; ++l) {
        const LayerPlan& layer = layers[l];
        at::Tensor z = at::mm(s, layer.w_prev_t);
        if (layer.has_skip()) z.addmm_(layer.skip_input(x0), layer.w_skip_t);
        const int64_t width = z.size(1);
        const scalar_t* bias = layer.has_bias() ? layer.bias.data_ptr<scalar_t>() : nullptr;
        // Bias, distance fold (running minimum and nearest neuron), activation and residual
        // exactly as in boundary_distance, the same distances counted within the radii.
        const coord_forward::WithinRadii<scalar_t> within{
            radii.data(), num_radii, r_max, count_ptr + (r0 * hidden + l) * num_radii,
            hidden * num_radii};
        coord_forward::activate_with_tangents<scalar_t>(
            z.data_ptr<scalar_t>(), rows, dims, width, bias, static_cast<scalar_t>(layer.slope),
            layer.residual ? s.data_ptr<scalar_t>() : nullptr, dist_ptr + r0, arg_ptr + r0,
            first_neuron, &within);
        s = z;
        first_neuron += width;
      }
    }
  });
  return {dist, argmin, counts};
}

Triple first_order_complexity_cpu(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                  const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                  at::ArrayRef<double> radii, at::TensorList weights,
                                  const BiasList& biases, SlopeList slopes,
                                  const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_radii(radii);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  Triple out;
  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "first_order_complexity_cpu", [&] {
    out = count_tiles<scalar_t>(
        coords.size(0), coords.size(1), net, radii, coords.options(),
        [&](int64_t r0, int64_t rows) {
          return coord_forward::stack_affine_sine<scalar_t>(coords.narrow(0, r0, rows), matrix,
                                                            offset, periodic);
        });
  });
  return out;
}

Triple first_order_complexity_encoded_cpu(const at::Tensor& x_in, const at::Tensor& x_jacobian_in,
                                          at::ArrayRef<double> radii, at::TensorList weights,
                                          const BiasList& biases, SlopeList slopes,
                                          const FlagList& input_skip,
                                          const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_radii(radii);
  check_encoded_inputs(x_in, x_jacobian_in, net);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor jac = x_jacobian_in.contiguous();
  Triple out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "first_order_complexity_encoded_cpu", [&] {
    out = count_tiles<scalar_t>(x.size(0), jac.size(2), net, radii, x.options(),
                                [&](int64_t r0, int64_t rows) {
                                  return coord_forward::stack_encoded(x.narrow(0, r0, rows),
                                                                      jac.narrow(0, r0, rows));
                                });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) {
  m.impl("first_order_complexity", &first_order_complexity_cpu);
  m.impl("first_order_complexity_encoded", &first_order_complexity_encoded_cpu);
}

}  // namespace specbias
