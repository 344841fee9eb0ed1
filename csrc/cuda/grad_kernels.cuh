// Row reductions shared by the CUDA gradient kernels: one warp per row (or row pair), float64
// accumulation whatever the input dtype, deterministic (fixed reduction order).
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "../common/grad_features.h"

namespace specbias {
namespace cuda {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int s = kWarp / 2; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
  return v;
}

template <typename T>
__device__ __forceinline__ double warp_dot(const T* __restrict__ p, const T* __restrict__ q,
                                           int64_t n, int lane) {
  double s = 0;
  for (int64_t k = lane; k < n; k += kWarp) s += double(p[k]) * double(q[k]);
  return warp_sum(s);
}

// acc[r] += (d_r . d'_r) (a_r . a'_r + 1) for rows r < rows, where d_r is row r of d and d'_r is
// row r + shift of d (shift = 0: squared norms; shift = rows: the pairs (r, rows + r)).
template <typename T>
__global__ void layer_products_kernel(const T* __restrict__ d, int64_t wd,
                                      const T* __restrict__ a, int64_t wa, int64_t rows,
                                      int64_t shift, double* __restrict__ acc) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const double dd = warp_dot(d + r * wd, d + (r + shift) * wd, wd, lane);
  const double aa = warp_dot(a + r * wa, a + (r + shift) * wa, wa, lane);
  if (lane == 0) acc[r] += dd * (aa + 1.0);
}

// acc [rows] (float64) += per-row layer products of the features f (see layer_products_kernel);
// with `per_layer` the products of layer l go to column l of acc [rows, layers] instead.
inline void accumulate_layer_products(const GradFeatures& f, int64_t rows, int64_t shift,
                                      at::Tensor& acc, bool per_layer) {
  if (rows == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  const int threads = kWarp * kWarpsPerBlock;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  for (size_t l = 0; l < f.layers(); ++l) {
    at::Tensor target = per_layer ? at::zeros({rows}, acc.options()) : acc;
    AT_DISPATCH_FLOATING_TYPES(f.inputs[l].scalar_type(), "layer_products", [&] {
      layer_products_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
          f.deltas[l].data_ptr<scalar_t>(), f.deltas[l].size(1),
          f.inputs[l].data_ptr<scalar_t>(), f.inputs[l].size(1), rows, shift,
          target.data_ptr<double>());
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (per_layer) acc.select(1, static_cast<int64_t>(l)).copy_(target);
  }
}

// Chunk of points whose features fit in about `bytes` (at least 1024 rows).
inline int64_t chunk_rows(at::TensorList weights, int64_t element_size, int64_t bytes) {
  int64_t per_row = weights[0].size(1);
  for (const auto& w : weights) per_row += 2 * w.size(0);
  return std::max<int64_t>(1024, bytes / (per_row * element_size));
}

}  // namespace cuda
}  // namespace specbias
