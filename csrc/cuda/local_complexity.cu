// Sampled local complexity on the GPU (see cpu/local_complexity.cpp): chunks of points, their
// hull vertices (common/hull.h) encoded by coord_forward's affine-sine kernel, cuBLAS GEMMs per
// layer, then one kernel per hidden layer in which a warp takes 32 neurons of one point: it
// ballots their bits at every vertex, ORs the XOR against vertex 0's ballot, adds the popcount
// to the point's count for the layer, and applies the activation in place.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>

#include "../common/complexity_checks.h"
#include "../common/coord_checks.h"
#include "../common/hull.h"
#include "../common/ieee_float32.h"
#include "../common/layer_plan.h"
#include "coord_forward.cuh"
#include "tiling.cuh"

namespace specbias {
namespace {

using cuda::kWarp;
using cuda::kWarpsPerBlock;

template <typename scalar_t, bool kLeaky>
__global__ void count_and_activate_kernel(scalar_t* __restrict__ z, int64_t points,
                                          int64_t vertices, int64_t width, scalar_t slope,
                                          int32_t* __restrict__ counts, int64_t count_stride) {
  const int64_t groups = (width + 31) / 32;
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= points * groups) return;  // whole warps exit together
  const int64_t p = warp / groups;
  const int64_t k = (warp % groups) * 32 + lane;
  const bool in_layer = k < width;
  unsigned first = 0, acc = 0;
  for (int64_t v = 0; v < vertices; ++v) {
    scalar_t* row = z + (p * vertices + v) * width;
    const scalar_t value = in_layer ? row[k] : scalar_t(0);
    const bool on = value > scalar_t(0);
    const unsigned bits = __ballot_sync(0xffffffffu, on);
    if (v == 0) {
      first = bits;
    } else {
      acc |= bits ^ first;
    }
    if (in_layer && !on) row[k] = kLeaky ? slope * value : scalar_t(0);
  }
  if (lane == 0 && acc != 0) atomicAdd(counts + p * count_stride, __popc(acc));
}

// Counts [n, L] int32; input(p0, points) gives the encoded vertices of points p0.. as
// [points * V, E].
template <typename InputFn>
at::Tensor count_chunks(int64_t n, int64_t vertices, int64_t features, const Network& net,
                        const at::TensorOptions& options, const InputFn& input) {
  const int64_t hidden = static_cast<int64_t>(net.hidden_layers());
  at::Tensor out = at::zeros({n, hidden}, options.dtype(at::kInt));
  if (n == 0) return out;
  const std::vector<LayerPlan> layers = layer_plan(net, /*contiguous=*/false);
  const int64_t widest = widest_block(layers, features);
  const int64_t element = at::elementSize(options.dtype().toScalarType());
  // Points per chunk: two pre-activation blocks of V rows per point near cuda::kChunkBytes. No
  // row floor (cuda::chunk_rows' kMinChunkRows): a point is already V rows, and a floor of 1024
  // points would multiply the working set by V on a wide network.
  const int64_t chunk =
      std::max<int64_t>(1, cuda::kChunkBytes / (2 * vertices * widest * element));
  auto stream = at::cuda::getCurrentCUDAStream();
  for (int64_t p0 = 0; p0 < n; p0 += chunk) {
    const int64_t points = std::min(chunk, n - p0);
    const at::Tensor x = input(p0, points);
    at::Tensor counts = out.narrow(0, p0, points);
    at::Tensor a = x;
    for (int64_t l = 0; l < hidden; ++l) {
      const LayerPlan& layer = layers[l];
      at::Tensor z = layer.has_bias() ? at::addmm(layer.bias, a, layer.w_prev_t)
                                      : at::mm(a, layer.w_prev_t);
      if (layer.has_skip()) z.addmm_(layer.skip_input(x), layer.w_skip_t);
      const int64_t width = z.size(1);
      const int64_t warps = points * ((width + 31) / 32);
      const int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
      AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "local_complexity_cuda", [&] {
        if (layer.slope == 0.0) {
          count_and_activate_kernel<scalar_t, false><<<blocks, kWarpsPerBlock * kWarp, 0, stream>>>(
              z.data_ptr<scalar_t>(), points, vertices, width, scalar_t(0),
              counts.data_ptr<int32_t>() + l, hidden);
        } else {
          count_and_activate_kernel<scalar_t, true><<<blocks, kWarpsPerBlock * kWarp, 0, stream>>>(
              z.data_ptr<scalar_t>(), points, vertices, width,
              static_cast<scalar_t>(layer.slope), counts.data_ptr<int32_t>() + l, hidden);
        }
      });
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      if (layer.residual) z.add_(a);
      a = z;
    }
  }
  return out;
}

at::Tensor local_complexity_cuda(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                 const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                 const at::Tensor& directions, double radius, bool include_centre,
                                 at::TensorList weights, const BiasList& biases, SlopeList slopes,
                                 const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  check_hull_inputs(coords_in, directions, radius);
  const c10::cuda::CUDAGuard guard(coords_in.device());
  const IeeeFloat32Guard ieee;  // float32 GEMMs stay IEEE whatever the TF32 settings
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  const at::Tensor hull = hull_offsets(directions, radius, include_centre);  // [V, D]
  const int64_t vertices = hull.size(0);
  const int64_t dims = coords.size(1);
  return count_chunks(
      coords.size(0), vertices, matrix.size(0), net, coords.options(),
      [&](int64_t p0, int64_t points) {
        const at::Tensor corners =
            (coords.narrow(0, p0, points).unsqueeze(1) + hull.unsqueeze(0))
                .view({points * vertices, dims});
        // The stacked block holds the values, then D tangent blocks; only the values are read.
        return coord_forward::stack_affine_sine(corners, matrix, offset, periodic)
            .narrow(0, 0, points * vertices);
      });
}

at::Tensor local_complexity_encoded_cuda(const at::Tensor& vertices_in, at::TensorList weights,
                                         const BiasList& biases, SlopeList slopes,
                                         const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_vertex_inputs(vertices_in, net);
  const c10::cuda::CUDAGuard guard(vertices_in.device());
  const IeeeFloat32Guard ieee;
  const int64_t n = vertices_in.size(0);
  const int64_t vertices = vertices_in.size(1);
  const int64_t features = vertices_in.size(2);
  const at::Tensor flat = vertices_in.contiguous().view({n * vertices, features});
  return count_chunks(n, vertices, features, net, flat.options(),
                      [&](int64_t p0, int64_t points) {
                        return flat.narrow(0, p0 * vertices, points * vertices);
                      });
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) {
  m.impl("local_complexity", &local_complexity_cuda);
  m.impl("local_complexity_encoded", &local_complexity_encoded_cuda);
}

}  // namespace specbias
