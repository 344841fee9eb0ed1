// Forward-mode pass through a described network (network.h) on the GPU, for one chunk of points.
// Values and the D coordinate tangents travel as one stacked block S [(1 + D) * rows, width]
// (values first, then tangent d of every point), so each layer is one cuBLAS GEMM (two with an
// input skip); a fused kernel then adds the bias, applies the activation and its derivative,
// adds a residual input, and (for boundary distance) folds |z| / ||dz/dc|| into a running
// minimum per point. The block starts from the affine-sine encoding of the coordinates
// (stack_affine_sine) or from given encoded points and their Jacobian (stack_encoded).
// Shared by boundary_distance*.cu and coord_gradients*.cu.
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "../common/layer_plan.h"
#include "tiling.cuh"

namespace specbias {
namespace coord_forward {

using cuda::kWarpsPerBlock;

template <typename scalar_t>
__global__ void encode_with_tangents_kernel(const scalar_t* __restrict__ coords, int64_t rows,
                                            int64_t dims, const scalar_t* __restrict__ matrix,
                                            const scalar_t* __restrict__ offset,
                                            const bool* __restrict__ periodic, int64_t features,
                                            scalar_t* __restrict__ s) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * features) return;
  const int64_t r = i / features;
  const int64_t e = i % features;
  scalar_t p = 0;  // phase c . m; the offset is added by angle addition (see cpu/coord_forward.h)
  for (int64_t d = 0; d < dims; ++d) p += coords[r * dims + d] * matrix[e * dims + d];
  scalar_t value = p + offset[e];
  scalar_t slope = 1;
  if (periodic[e]) {
    const scalar_t sp = sin(p), cp = cos(p), so = sin(offset[e]), co = cos(offset[e]);
    value = sp * co + cp * so;
    slope = cp * co - sp * so;
  }
  s[r * features + e] = value;
  for (int64_t d = 0; d < dims; ++d) {
    s[((1 + d) * rows + r) * features + e] = slope * matrix[e * dims + d];
  }
}

// One warp per point (row). Lanes walk the neurons with stride 32 (coalesced), keep their own
// minimum, then reduce it across the warp with the lowest neuron index winning ties, as on the
// CPU. Same steps as the CPU activate_with_tangents: bias, distance fold, activation (tangent
// mask 1 where z > 0, else the slope), residual add of `prev`.
template <typename scalar_t, bool kDistance>
__global__ void activate_with_tangents_kernel(scalar_t* __restrict__ s, int64_t rows,
                                              int64_t dims, int64_t width,
                                              const scalar_t* __restrict__ bias, scalar_t slope,
                                              const scalar_t* __restrict__ prev,
                                              scalar_t* __restrict__ best,
                                              int64_t* __restrict__ argmin, int64_t first_neuron) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;  // whole warps exit together: rows are per warp
  const int64_t stride = rows * width;
  scalar_t* z = s + r * width;
  scalar_t* t0 = s + stride + r * width;
  scalar_t lane_best = INFINITY;
  int64_t lane_arg = -1;
  for (int64_t k = lane; k < width; k += 32) {
    const scalar_t zk = bias ? z[k] + bias[k] : z[k];
    if (kDistance) {
      scalar_t g2 = 0;
      for (int64_t d = 0; d < dims; ++d) {
        const scalar_t t = t0[d * stride + k];
        g2 += t * t;
      }
      if (g2 > scalar_t(0)) {
        const scalar_t dist = fabs(zk) / sqrt(g2);
        if (dist < lane_best) {
          lane_best = dist;
          lane_arg = first_neuron + k;
        }
      }
    }
    scalar_t value = zk;
    if (!(zk > scalar_t(0))) {
      if (slope == scalar_t(0)) {
        value = 0;
        for (int64_t d = 0; d < dims; ++d) t0[d * stride + k] = 0;
      } else {
        value = slope * zk;
        for (int64_t d = 0; d < dims; ++d) t0[d * stride + k] *= slope;
      }
    }
    if (prev) {
      const scalar_t* p = prev + r * width;
      value += p[k];
      for (int64_t d = 0; d < dims; ++d) t0[d * stride + k] += p[stride + d * stride + k];
    }
    z[k] = value;
  }
  if (kDistance) {
#pragma unroll
    for (int step = 16; step > 0; step >>= 1) {
      const scalar_t other_best = __shfl_down_sync(0xffffffffu, lane_best, step);
      const int64_t other_arg = __shfl_down_sync(0xffffffffu, lane_arg, step);
      if (other_best < lane_best ||
          (other_best == lane_best && other_arg >= 0 && (lane_arg < 0 || other_arg < lane_arg))) {
        lane_best = other_best;
        lane_arg = other_arg;
      }
    }
    // Earlier layers hold lower neuron indices, so a tie keeps the stored entry.
    if (lane == 0 && lane_best < best[r]) {
      best[r] = lane_best;
      argmin[r] = lane_arg;
    }
  }
}

// Rows per chunk: two stacked blocks (1 + D rows per point) of the widest layer.
inline int64_t chunk_rows(int64_t dims, int64_t max_width, int64_t element_size) {
  return cuda::chunk_rows(2 * (1 + dims) * max_width * element_size);
}

// The stacked block of a chunk of affine-sine encoded coordinates c [rows, D].
inline at::Tensor stack_affine_sine(const at::Tensor& c, const at::Tensor& matrix,
                                    const at::Tensor& offset, const at::Tensor& periodic) {
  const int64_t rows = c.size(0);
  const int64_t dims = c.size(1);
  const int64_t features = matrix.size(0);
  at::Tensor s = at::empty({(1 + dims) * rows, features}, c.options());
  const int threads = cuda::kThreads;
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "coord_encode_cuda", [&] {
    const int64_t blocks = (rows * features + threads - 1) / threads;
    encode_with_tangents_kernel<scalar_t>
        <<<blocks, threads, 0, at::cuda::getCurrentCUDAStream()>>>(
            c.data_ptr<scalar_t>(), rows, dims, matrix.data_ptr<scalar_t>(),
            offset.data_ptr<scalar_t>(), periodic.data_ptr<bool>(), features,
            s.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return s;
}

// The stacked block of a chunk of encoded points x [rows, E] with x_jacobian [rows, E, D].
inline at::Tensor stack_encoded(const at::Tensor& x, const at::Tensor& x_jacobian) {
  const int64_t rows = x.size(0);
  const int64_t dims = x_jacobian.size(2);
  return at::cat({x, x_jacobian.permute({2, 0, 1}).reshape({dims * rows, x.size(1)})}, 0);
}

// Runs the stacked block x0 [(1+D)*rows, E] of a chunk through every hidden layer (layers[0..L-1]
// of layer_plan); returns the stacked block of a_{L-1}. best/argmin ([rows], may be
// undefined) receive the running boundary-distance minimum. The GEMMs run under the caller's
// TF32 guard.
inline at::Tensor hidden_pass(const at::Tensor& x0, int64_t rows, int64_t dims,
                              const std::vector<LayerPlan>& layers, const at::Tensor& best,
                              const at::Tensor& argmin) {
  auto stream = at::cuda::getCurrentCUDAStream();
  const bool distance = best.defined();
  at::Tensor s = x0;
  int64_t first_neuron = 0;
  for (size_t l = 0; l + 1 < layers.size(); ++l) {
    const LayerPlan& layer = layers[l];
    at::Tensor z = at::mm(s, layer.w_prev_t);
    if (layer.has_skip()) z.addmm_(layer.skip_input(x0), layer.w_skip_t);
    const int64_t width = z.size(1);
    const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "coord_activate_cuda", [&] {
      const scalar_t* bias = layer.has_bias() ? layer.bias.data_ptr<scalar_t>() : nullptr;
      const scalar_t* prev = layer.residual ? s.data_ptr<scalar_t>() : nullptr;
      const scalar_t slope = static_cast<scalar_t>(layer.slope);
      if (distance) {
        activate_with_tangents_kernel<scalar_t, true>
            <<<blocks, kWarpsPerBlock * cuda::kWarp, 0, stream>>>(
                z.data_ptr<scalar_t>(), rows, dims, width, bias, slope, prev,
                best.data_ptr<scalar_t>(), argmin.data_ptr<int64_t>(), first_neuron);
      } else {
        activate_with_tangents_kernel<scalar_t, false>
            <<<blocks, kWarpsPerBlock * cuda::kWarp, 0, stream>>>(
                z.data_ptr<scalar_t>(), rows, dims, width, bias, slope, prev, nullptr, nullptr,
                first_neuron);
      }
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    s = z;
    first_neuron += width;
  }
  return s;
}

// d f / d c of a chunk, [D * rows, out]: the head on the tangent rows only, plus its skip
// columns on x's tangents.
inline at::Tensor head_tangents(const at::Tensor& s, const at::Tensor& x0, int64_t rows,
                                int64_t dims, const LayerPlan& head) {
  at::Tensor g = at::mm(s.narrow(0, rows, dims * rows), head.w_prev_t);
  if (head.has_skip()) g.addmm_(head.skip_input(x0.narrow(0, rows, dims * rows)), head.w_skip_t);
  return g;
}

// The op drivers: chunks of points in sequence; stack(r0, rows) gives the stacked block of
// points r0..r0+rows-1. `features` is the encoded width E.

template <typename StackFn>
std::tuple<at::Tensor, at::Tensor> boundary_distance_chunks(int64_t n, int64_t dims,
                                                            int64_t features, const Network& net,
                                                            const at::TensorOptions& options,
                                                            const StackFn& stack) {
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), options);
  at::Tensor argmin = at::full({n}, -1, options.dtype(at::kLong));
  if (n == 0) return {dist, argmin};
  const auto layers = layer_plan(net, /*contiguous=*/false);
  const int64_t chunk = chunk_rows(dims, widest_block(layers, features), dist.element_size());
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    hidden_pass(stack(r0, rows), rows, dims, layers, dist.narrow(0, r0, rows),
                argmin.narrow(0, r0, rows));
  }
  return {dist, argmin};
}

template <typename StackFn>
at::Tensor coord_gradients_chunks(int64_t n, int64_t dims, int64_t features, const Network& net,
                                  const at::TensorOptions& options, const StackFn& stack) {
  const int64_t out_dim = net.weights.back().size(0);
  at::Tensor out = at::empty({n, out_dim, dims}, options);
  if (n == 0) return out;
  const auto layers = layer_plan(net, /*contiguous=*/false);
  const int64_t chunk = chunk_rows(dims, widest_block(layers, features), out.element_size());
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const at::Tensor x0 = stack(r0, rows);
    const at::Tensor s = hidden_pass(x0, rows, dims, layers, at::Tensor(), at::Tensor());
    const at::Tensor grads = head_tangents(s, x0, rows, dims, layers.back());
    out.narrow(0, r0, rows).copy_(grads.view({dims, rows, out_dim}).permute({1, 2, 0}));
  }
  return out;
}

}  // namespace coord_forward
}  // namespace specbias
