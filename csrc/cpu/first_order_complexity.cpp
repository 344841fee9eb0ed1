// First-order local complexity on the CPU, in the boundary-distance pass: per tile of points the
// stacked value+tangent forward of coord_forward.h; after each hidden layer's GEMM one sweep
// counts, per layer and per radius, the neurons whose first-order distance |z| / ||dz/dc|| is
// <= r, and coord_forward::activate_with_tangents then folds the distances into the running
// minimum (distance and nearest neuron, bit-identical to boundary_distance) and applies bias,
// activation and residual.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
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

// On the GEMM output s of one hidden layer (value rows, then tangent rows; bias not yet added):
// adds, per row r and radius q, the number of neurons whose first-order distance |z| / ||dz/dc||
// (the expression of coord_forward::activate_with_tangents, so the same rounding) is
// <= radii[q] to counts[r * count_stride + q]. Zero-gradient neurons (distance +inf) never count.
// Most neurons are far outside the largest radius: z^2 > reject * ||dz/dc||^2 with the right
// side a normal number and reject = r_max^2 (1 + 16 eps), which covers the rounding of both
// sides, proves the computed distance exceeds r_max without the square root and division
// (reject = 0 turns the test off).
template <typename scalar_t>
void count_within(const scalar_t* s, int64_t rows, int64_t dims, int64_t width,
                  const scalar_t* bias, const std::vector<scalar_t>& radii, scalar_t reject,
                  int32_t* counts, int64_t count_stride) {
  const int64_t tangent_stride = rows * width;
  const int64_t num_radii = static_cast<int64_t>(radii.size());
  const scalar_t smallest = std::numeric_limits<scalar_t>::min();
  // Row buffers, so that the sum of squares and the prefilter run as plain loops over the
  // neurons (vectorised by the compiler); the survivors take the exact test.
  std::vector<scalar_t> g2(width), zb(width);
  std::vector<uint8_t> maybe(width);
  for (int64_t r = 0; r < rows; ++r) {
    const scalar_t* z = s + r * width;
    const scalar_t* t0 = s + tangent_stride + r * width;
    int32_t* row_counts = counts + r * count_stride;
    for (int64_t k = 0; k < width; ++k) g2[k] = 0;
    for (int64_t d = 0; d < dims; ++d) {
      const scalar_t* t = t0 + d * tangent_stride;
      for (int64_t k = 0; k < width; ++k) g2[k] += t[k] * t[k];
    }
    for (int64_t k = 0; k < width; ++k) zb[k] = bias ? z[k] + bias[k] : z[k];
    for (int64_t k = 0; k < width; ++k) {
      const scalar_t bound = reject * g2[k];
      maybe[k] = !(bound >= smallest && zb[k] * zb[k] > bound);
    }
    for (int64_t k = 0; k < width; ++k) {
      if (!maybe[k] || !(g2[k] > scalar_t(0))) continue;
      const scalar_t dist = std::abs(zb[k]) / std::sqrt(g2[k]);
      for (int64_t q = 0; q < num_radii; ++q) row_counts[q] += dist <= radii[q];
    }
  }
}

// The prefilter bound of count_within: r_max^2 (1 + 16 eps) when it is a normal number (else 0:
// a radius so small or large that its square leaves the normal range is always tested exactly).
template <typename scalar_t>
scalar_t reject_bound(const std::vector<scalar_t>& radii) {
  const scalar_t r_max = *std::max_element(radii.begin(), radii.end());
  const scalar_t bound =
      r_max * r_max * (scalar_t(1) + 16 * std::numeric_limits<scalar_t>::epsilon());
  return std::isnormal(bound) ? bound : scalar_t(0);
}

// (distance [n], argmin [n], counts [n, L, R]); stack(r0, rows) as in coord_forward.h.
template <typename scalar_t, typename StackFn>
Triple count_tiles(int64_t n, int64_t dims, const Network& net, at::ArrayRef<double> radii_in,
                   const at::TensorOptions& options, const StackFn& stack) {
  const std::vector<LayerPlan> layers = layer_plan(net, /*contiguous=*/true);
  const int64_t hidden = static_cast<int64_t>(net.hidden_layers());
  const int64_t num_radii = static_cast<int64_t>(radii_in.size());
  std::vector<scalar_t> radii(radii_in.begin(), radii_in.end());
  const scalar_t reject = reject_bound(radii);
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
        count_within<scalar_t>(z.data_ptr<scalar_t>(), rows, dims, width, bias, radii, reject,
                               count_ptr + (r0 * hidden + l) * num_radii, hidden * num_radii);
        // Distance fold (running minimum and nearest neuron), bias, activation and residual,
        // exactly as in boundary_distance.
        coord_forward::activate_with_tangents<scalar_t>(
            z.data_ptr<scalar_t>(), rows, dims, width, bias, static_cast<scalar_t>(layer.slope),
            layer.residual ? s.data_ptr<scalar_t>() : nullptr, dist_ptr + r0, arg_ptr + r0,
            first_neuron);
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
