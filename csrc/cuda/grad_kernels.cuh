// Row reductions shared by the CUDA gradient kernels: one warp per row (or row pair), float64
// accumulation whatever the input dtype, deterministic (fixed reduction order).
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "../common/grad_features.h"
#include "tiling.cuh"

namespace specbias {
namespace cuda {

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

// acc[r] += (d_r . d'_r) (a_r . a'_r + bias) for rows r < rows, where d_r is row r of d and d'_r
// is row r + shift of d (shift = 0: squared norms; shift = rows: the pairs (r, rows + r)); bias
// is 1 for a layer with a bias, else 0.
template <typename T>
__global__ void layer_products_kernel(const T* __restrict__ d, int64_t wd,
                                      const T* __restrict__ a, int64_t wa, int64_t rows,
                                      int64_t shift, double bias, double* __restrict__ acc) {
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const double dd = warp_dot(d + r * wd, d + (r + shift) * wd, wd, lane);
  const double aa = warp_dot(a + r * wa, a + (r + shift) * wa, wa, lane);
  if (lane == 0) acc[r] += dd * (aa + bias);
}

// acc[p] += (d_{ri[p]} . d_{rj[p]}) (a_{ri[p]} . a_{rj[p]} + bias) for pairs p < pairs: the pair
// form of layer_products_kernel, for features computed once per distinct point.
template <typename T>
__global__ void indexed_pair_products_kernel(const T* __restrict__ d, int64_t wd,
                                             const T* __restrict__ a, int64_t wa, int64_t pairs,
                                             const int64_t* __restrict__ ri,
                                             const int64_t* __restrict__ rj, double bias,
                                             double* __restrict__ acc) {
  const int64_t p = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (p >= pairs) return;
  const int64_t r = ri[p], s = rj[p];
  const double dd = warp_dot(d + r * wd, d + s * wd, wd, lane);
  const double aa = warp_dot(a + r * wa, a + s * wa, wa, lane);
  if (lane == 0) acc[p] += dd * (aa + bias);
}

// acc [pairs] (float64) += sum over layers of the pair products of rows (ri[p], rj[p]) of f.
inline void accumulate_pair_products(const GradFeatures& f, const at::Tensor& ri,
                                     const at::Tensor& rj, at::Tensor& acc) {
  const int64_t pairs = ri.size(0);
  if (pairs == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  const int threads = kWarp * kWarpsPerBlock;
  const int64_t blocks = (pairs + kWarpsPerBlock - 1) / kWarpsPerBlock;
  for (size_t l = 0; l < f.layers(); ++l) {
    AT_DISPATCH_FLOATING_TYPES(f.inputs[l].scalar_type(), "pair_products", [&] {
      indexed_pair_products_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
          f.deltas[l].data_ptr<scalar_t>(), f.deltas[l].size(1),
          f.inputs[l].data_ptr<scalar_t>(), f.inputs[l].size(1), pairs,
          ri.data_ptr<int64_t>(), rj.data_ptr<int64_t>(), f.bias[l], acc.data_ptr<double>());
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
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
          f.inputs[l].data_ptr<scalar_t>(), f.inputs[l].size(1), rows, shift, f.bias[l],
          target.data_ptr<double>());
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (per_layer) acc.select(1, static_cast<int64_t>(l)).copy_(target);
  }
}

// Points per chunk of the gradient features (kChunkBytes of features, scratch included).
inline int64_t feature_chunk_rows(const std::vector<LayerPlan>& plan, int64_t element_size) {
  return chunk_rows(feature_row_elements(plan) * element_size);
}

}  // namespace cuda
}  // namespace specbias
