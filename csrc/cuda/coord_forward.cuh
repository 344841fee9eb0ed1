// Forward-mode pass from coordinates through the encoding and the hidden layers, on the GPU, for
// one chunk of points. Values and the D coordinate tangents travel as one stacked block
// S [(1 + D) * rows, width] (values first, then tangent d of every point), so each layer is one
// cuBLAS GEMM; a fused kernel then adds the bias, applies the ReLU and its derivative, and (for
// boundary_distance) folds |z| / ||dz/dc|| into a running minimum per point.
// Shared by boundary_distance.cu and coord_gradients.cu.
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include <vector>

namespace specbias {
namespace coord_forward {

constexpr int64_t kChunkBytes = int64_t(256) << 20;  // stacked-block working set per chunk
constexpr int kWarpsPerBlock = 8;

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
  scalar_t p = 0;  // phase c . m; the offset is added by angle addition (see coord_forward.h)
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
// minimum, then reduce it across the warp with the lowest neuron index winning ties, as on the CPU.
template <typename scalar_t, bool kDistance>
__global__ void bias_relu_tangents_kernel(scalar_t* __restrict__ s, int64_t rows, int64_t dims,
                                          int64_t width, const scalar_t* __restrict__ bias,
                                          scalar_t* __restrict__ best,
                                          int64_t* __restrict__ argmin, int64_t first_neuron) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;  // whole warps exit together: rows are per warp
  scalar_t* z = s + r * width;
  scalar_t lane_best = INFINITY;
  int64_t lane_arg = -1;
  for (int64_t k = lane; k < width; k += 32) {
    const scalar_t zk = z[k] + bias[k];
    if (kDistance) {
      scalar_t g2 = 0;
      for (int64_t d = 0; d < dims; ++d) {
        const scalar_t t = s[((1 + d) * rows + r) * width + k];
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
    if (zk > scalar_t(0)) {
      z[k] = zk;
    } else {
      z[k] = 0;
      for (int64_t d = 0; d < dims; ++d) s[((1 + d) * rows + r) * width + k] = 0;
    }
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

// Rows per chunk so that the stacked block of the widest layer stays near kChunkBytes.
inline int64_t chunk_rows(int64_t dims, int64_t max_width, int64_t element_size) {
  return std::max<int64_t>(1024, kChunkBytes / (2 * (1 + dims) * max_width * element_size));
}

// Runs a chunk c [rows, D] through the encoding and every hidden layer (weights[0..L-1]);
// returns the stacked block after the last hidden ReLU. best/argmin ([rows], may be undefined)
// receive the running boundary-distance minimum.
inline at::Tensor forward_chunk(const at::Tensor& c, const at::Tensor& matrix,
                                const at::Tensor& offset, const at::Tensor& periodic,
                                at::TensorList weights, at::TensorList biases,
                                const at::Tensor& best, const at::Tensor& argmin) {
  const int64_t rows = c.size(0);
  const int64_t dims = c.size(1);
  const int64_t features = matrix.size(0);
  auto stream = at::cuda::getCurrentCUDAStream();
  at::Tensor s = at::empty({(1 + dims) * rows, features}, c.options());
  const int threads = 256;
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "coord_encode_cuda", [&] {
    const int64_t blocks = (rows * features + threads - 1) / threads;
    encode_with_tangents_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
        c.data_ptr<scalar_t>(), rows, dims, matrix.data_ptr<scalar_t>(),
        offset.data_ptr<scalar_t>(), periodic.data_ptr<bool>(), features,
        s.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  int64_t first_neuron = 0;
  const bool distance = best.defined();
  for (size_t l = 0; l + 1 < weights.size(); ++l) {
    s = at::mm(s, weights[l].t());
    const int64_t width = s.size(1);
    const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
    AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "coord_bias_relu_cuda", [&] {
      if (distance) {
        bias_relu_tangents_kernel<scalar_t, true><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
            s.data_ptr<scalar_t>(), rows, dims, width, biases[l].data_ptr<scalar_t>(),
            best.data_ptr<scalar_t>(), argmin.data_ptr<int64_t>(), first_neuron);
      } else {
        bias_relu_tangents_kernel<scalar_t, false><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
            s.data_ptr<scalar_t>(), rows, dims, width, biases[l].data_ptr<scalar_t>(), nullptr,
            nullptr, first_neuron);
      }
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    first_neuron += width;
  }
  return s;
}

}  // namespace coord_forward
}  // namespace specbias
