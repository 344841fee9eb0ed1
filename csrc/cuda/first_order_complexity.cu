// First-order local complexity on the GPU, in the boundary-distance pass (see
// cpu/first_order_complexity.cpp): chunks of points through the stacked value+tangent forward of
// coord_forward.cuh; after each hidden layer's GEMM a counting kernel (one warp per point, lanes
// over neurons, a ballot per radius) adds the neurons with |z| / ||dz/dc|| <= r to the point's
// counts, then coord_forward's activation kernel folds the running minimum and applies bias,
// activation and residual exactly as boundary_distance does.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>
#include <tuple>
#include <vector>

#include "../common/complexity_checks.h"
#include "../common/coord_checks.h"
#include "../common/ieee_float32.h"
#include "../common/layer_plan.h"
#include "coord_forward.cuh"
#include "tiling.cuh"

namespace specbias {
namespace {

using Triple = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// One warp per row (point). counts[r * count_stride + q] is written by lane 0 of row r's warp
// only, so plain adds suffice.
template <typename scalar_t>
__global__ void count_within_kernel(const scalar_t* __restrict__ s, int64_t rows, int64_t dims,
                                    int64_t width, const scalar_t* __restrict__ bias,
                                    const scalar_t* __restrict__ radii, int64_t num_radii,
                                    int32_t* __restrict__ counts, int64_t count_stride) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;  // whole warps exit together: rows are per warp
  const int64_t stride = rows * width;
  const scalar_t* z = s + r * width;
  const scalar_t* t0 = s + stride + r * width;
  int32_t* row_counts = counts + r * count_stride;
  for (int64_t k0 = 0; k0 < width; k0 += 32) {
    const int64_t k = k0 + lane;
    scalar_t dist = INFINITY;
    if (k < width) {
      const scalar_t zk = bias ? z[k] + bias[k] : z[k];
      scalar_t g2 = 0;
      for (int64_t d = 0; d < dims; ++d) {
        const scalar_t t = t0[d * stride + k];
        g2 += t * t;
      }
      if (g2 > scalar_t(0)) dist = fabs(zk) / sqrt(g2);
    }
    for (int64_t q = 0; q < num_radii; ++q) {
      const unsigned within = __ballot_sync(0xffffffffu, dist <= radii[q]);
      if (lane == 0) row_counts[q] += __popc(within);
    }
  }
}

template <typename StackFn>
Triple count_chunks(int64_t n, int64_t dims, int64_t features, const Network& net,
                    at::ArrayRef<double> radii_in, const at::TensorOptions& options,
                    const StackFn& stack) {
  const int64_t hidden = static_cast<int64_t>(net.hidden_layers());
  const int64_t num_radii = static_cast<int64_t>(radii_in.size());
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), options);
  at::Tensor argmin = at::full({n}, -1, options.dtype(at::kLong));
  at::Tensor counts = at::zeros({n, hidden, num_radii}, options.dtype(at::kInt));
  if (n == 0) return {dist, argmin, counts};
  // The radii in the op's dtype, compared with the distances in that dtype (as on the CPU).
  const at::Tensor radii =
      at::tensor(std::vector<double>(radii_in.begin(), radii_in.end()),
                 at::TensorOptions().dtype(at::kDouble))
          .to(options.device(), options.dtype().toScalarType());
  const std::vector<LayerPlan> layers = layer_plan(net, /*contiguous=*/false);
  const int64_t chunk =
      coord_forward::chunk_rows(dims, widest_block(layers, features), dist.element_size());
  auto stream = at::cuda::getCurrentCUDAStream();
  const int warps = cuda::kWarpsPerBlock;
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const at::Tensor x0 = stack(r0, rows);
    at::Tensor best = dist.narrow(0, r0, rows);
    at::Tensor nearest = argmin.narrow(0, r0, rows);
    at::Tensor s = x0;
    int64_t first_neuron = 0;
    for (int64_t l = 0; l < hidden; ++l) {
      const LayerPlan& layer = layers[l];
      at::Tensor z = at::mm(s, layer.w_prev_t);
      if (layer.has_skip()) z.addmm_(layer.skip_input(x0), layer.w_skip_t);
      const int64_t width = z.size(1);
      const int64_t blocks = (rows + warps - 1) / warps;
      AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "first_order_complexity_cuda", [&] {
        const scalar_t* bias = layer.has_bias() ? layer.bias.data_ptr<scalar_t>() : nullptr;
        count_within_kernel<scalar_t><<<blocks, warps * cuda::kWarp, 0, stream>>>(
            z.data_ptr<scalar_t>(), rows, dims, width, bias, radii.data_ptr<scalar_t>(),
            num_radii, counts.data_ptr<int32_t>() + (r0 * hidden + l) * num_radii,
            hidden * num_radii);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        coord_forward::activate_with_tangents_kernel<scalar_t, true>
            <<<blocks, warps * cuda::kWarp, 0, stream>>>(
                z.data_ptr<scalar_t>(), rows, dims, width, bias,
                static_cast<scalar_t>(layer.slope),
                layer.residual ? s.data_ptr<scalar_t>() : nullptr, best.data_ptr<scalar_t>(),
                nearest.data_ptr<int64_t>(), first_neuron);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
      s = z;
      first_neuron += width;
    }
  }
  return {dist, argmin, counts};
}

Triple first_order_complexity_cuda(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                   const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                   at::ArrayRef<double> radii, at::TensorList weights,
                                   const BiasList& biases, SlopeList slopes,
                                   const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_radii(radii);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  const c10::cuda::CUDAGuard guard(coords_in.device());
  const IeeeFloat32Guard ieee;  // float32 GEMMs stay IEEE whatever the TF32 settings
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  return count_chunks(coords.size(0), coords.size(1), matrix.size(0), net, radii,
                      coords.options(), [&](int64_t r0, int64_t rows) {
                        return coord_forward::stack_affine_sine(coords.narrow(0, r0, rows),
                                                                matrix, offset, periodic);
                      });
}

Triple first_order_complexity_encoded_cuda(const at::Tensor& x_in, const at::Tensor& x_jacobian_in,
                                           at::ArrayRef<double> radii, at::TensorList weights,
                                           const BiasList& biases, SlopeList slopes,
                                           const FlagList& input_skip,
                                           const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_radii(radii);
  check_encoded_inputs(x_in, x_jacobian_in, net);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const IeeeFloat32Guard ieee;
  const at::Tensor x = x_in.contiguous();
  const at::Tensor jac = x_jacobian_in.contiguous();
  return count_chunks(x.size(0), jac.size(2), x.size(1), net, radii, x.options(),
                      [&](int64_t r0, int64_t rows) {
                        return coord_forward::stack_encoded(x.narrow(0, r0, rows),
                                                            jac.narrow(0, r0, rows));
                      });
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) {
  m.impl("first_order_complexity", &first_order_complexity_cuda);
  m.impl("first_order_complexity_encoded", &first_order_complexity_encoded_cuda);
}

}  // namespace specbias
