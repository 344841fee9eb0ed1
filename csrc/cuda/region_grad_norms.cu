// Exact per-region gradient norms on the GPU: ||sum_{i in S_r} g_i|| and sum_{i in S_r} ||g_i||.
// Points are sorted by id (stable), split into work items of whole regions (or one region too
// large for an item, done in sub-chunks with cuBLAS), and each item's features come from one
// cuBLAS forward and backward pass. Per layer, small regions sum the pairwise products
// (delta_i . delta_j)(in_i . in_j + [bias_l]) (one block per region); larger ones compute
// ||sum_i delta_i [in_i, 1]^T||_F^2 (the "1" column only for a layer with a bias) with a tiled
// kernel (one block per region and 32x32 tile of the sum), partial sums reduced in a fixed
// order, so results are deterministic. All in float64.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/ieee_float32.h"
#include "../common/network.h"
#include "../common/region_groups.h"
#include "grad_kernels.cuh"

namespace specbias {
namespace {

constexpr int kTile = 32;
constexpr int kTileRowsPerThread = 4;  // block (32, 8): each thread owns 4 rows of the tile

__device__ __forceinline__ double block_sum(double v, double* scratch) {
  v = cuda::warp_sum(v);
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int warps = (blockDim.x * blockDim.y) / cuda::kWarp;
  if (tid % cuda::kWarp == 0) scratch[tid / cuda::kWarp] = v;
  __syncthreads();
  double total = 0;
  if (tid == 0) {
    for (int w = 0; w < warps; ++w) total += scratch[w];
  }
  return total;  // valid in thread 0
}

// out[s] += sum of vals over segment s (rows seg[s]..seg[s+1]-1); one warp per segment.
__global__ void segment_sum_kernel(const double* __restrict__ vals,
                                   const int64_t* __restrict__ seg, int64_t segments,
                                   double* __restrict__ out) {
  const int64_t s = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / cuda::kWarp;
  const int lane = threadIdx.x % cuda::kWarp;
  if (s >= segments) return;
  double v = 0;
  for (int64_t p = seg[s] + lane; p < seg[s + 1]; p += cuda::kWarp) v += vals[p];
  v = cuda::warp_sum(v);
  if (lane == 0) out[s] += v;
}

// region_sq[s] += sum_{p,q in segment s} (d_p . d_q)(a_p . a_q + bias) for segments with at most
// `cutoff` members; one block per segment, one warp per pair (coalesced row reads).
template <typename T>
__global__ void pairwise_kernel(const T* __restrict__ d, int64_t wd, const T* __restrict__ a,
                                int64_t wa, const int64_t* __restrict__ seg, int64_t cutoff,
                                double bias, double* __restrict__ region_sq) {
  __shared__ double scratch[32];
  const int64_t s = blockIdx.x;
  const int64_t start = seg[s], n = seg[s + 1] - seg[s];
  if (n == 0 || n > cutoff) return;
  const int lane = threadIdx.x % cuda::kWarp;
  const int warp = threadIdx.x / cuda::kWarp, warps = blockDim.x / cuda::kWarp;
  double v = 0;
  for (int64_t k = warp; k < n * n; k += warps) {
    const int64_t p = k / n, q = k % n;
    if (q < p) continue;
    const double dd = cuda::warp_dot(d + (start + p) * wd, d + (start + q) * wd, wd, lane);
    const double aa = cuda::warp_dot(a + (start + p) * wa, a + (start + q) * wa, wa, lane);
    if (lane == 0) v += (p == q ? 1.0 : 2.0) * dd * (aa + bias);
  }
  const double total = block_sum(v, scratch);
  if (threadIdx.x == 0) region_sq[s] += total;
}

// partial[j, t] = ||tile t of sum_{p in segment j} d_p [a_p, 1]^T||_F^2 for the large segments
// (start[j], len[j]); the "1" column only with has_bias; grid (segments, tiles), block (32, 8).
template <typename T>
__global__ void outer_sum_tiles_kernel(const T* __restrict__ d, int64_t wd,
                                       const T* __restrict__ a, int64_t wa,
                                       const int64_t* __restrict__ start,
                                       const int64_t* __restrict__ len, int64_t tiles_i,
                                       bool has_bias, double* __restrict__ partial) {
  // Each 32-member chunk is summed in the input precision (32 terms), the chunks in float64.
  __shared__ T sd[kTile][kTile + 1];
  __shared__ T sa[kTile][kTile + 1];
  __shared__ double scratch[32];
  const int64_t j = blockIdx.x;
  const int64_t o0 = int64_t(blockIdx.y / tiles_i) * kTile;
  const int64_t i0 = int64_t(blockIdx.y % tiles_i) * kTile;
  const int64_t s = start[j], n = len[j];
  const int tx = threadIdx.x, ty = threadIdx.y;
  double acc[kTileRowsPerThread] = {0, 0, 0, 0};
  for (int64_t p0 = 0; p0 < n; p0 += kTile) {
    for (int pp = ty; pp < kTile; pp += blockDim.y) {
      const int64_t p = p0 + pp;
      const bool row_ok = p < n;
      const int64_t o = o0 + tx, i = i0 + tx;
      sd[pp][tx] = (row_ok && o < wd) ? d[(s + p) * wd + o] : T(0);
      sa[pp][tx] = !row_ok ? T(0)
                   : (i < wa ? a[(s + p) * wa + i] : (i == wa && has_bias ? T(1) : T(0)));
    }
    __syncthreads();
    T part[kTileRowsPerThread] = {0, 0, 0, 0};
#pragma unroll 8
    for (int pp = 0; pp < kTile; ++pp) {
      const T av = sa[pp][tx];
#pragma unroll
      for (int k = 0; k < kTileRowsPerThread; ++k) part[k] += sd[pp][ty + 8 * k] * av;
    }
#pragma unroll
    for (int k = 0; k < kTileRowsPerThread; ++k) acc[k] += double(part[k]);
    __syncthreads();
  }
  double v = 0;
#pragma unroll
  for (int k = 0; k < kTileRowsPerThread; ++k) v += acc[k] * acc[k];
  const double total = block_sum(v, scratch);
  if (tx == 0 && ty == 0) partial[j * gridDim.y + blockIdx.y] = total;
}

at::Tensor to_device(const std::vector<int64_t>& v, const at::Device& device) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(device);
}

struct ItemContext {
  const at::Tensor& x;
  const at::Tensor& grad_out;
  const std::vector<LayerPlan>& plan;
  const at::Tensor& order;
  const std::vector<int64_t>& offsets;
  at::Tensor& region_sq;     // float64 [R]
  at::Tensor& sum_of_norms;  // float64 [R]
  int64_t cap;
};

// Adds sqrt(||g_i||^2) of the item's points to sum_of_norms by region.
void add_point_norms(const ItemContext& c, const GradFeatures& f, const at::Tensor& seg_dev,
                     int64_t segments, int64_t r0) {
  const int64_t rows = f.rows();
  at::Tensor g2 = at::zeros({rows}, c.x.options().dtype(at::kDouble));
  cuda::accumulate_layer_products(f, rows, 0, g2, false);
  g2.sqrt_();
  at::Tensor out = c.sum_of_norms.narrow(0, r0, segments);
  const int threads = cuda::kWarp * cuda::kWarpsPerBlock;
  const int64_t blocks = (segments + cuda::kWarpsPerBlock - 1) / cuda::kWarpsPerBlock;
  segment_sum_kernel<<<blocks, threads, 0, at::cuda::getCurrentCUDAStream()>>>(
      g2.data_ptr<double>(), seg_dev.data_ptr<int64_t>(), segments, out.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void process_regions(const ItemContext& c, const RegionItem& item) {
  const auto& off = c.offsets;
  const int64_t s0 = off[item.r0], rows = off[item.r1] - s0;
  const int64_t segments = item.r1 - item.r0;
  auto [xs, gos] = gather_rows(c.x, c.grad_out, c.order.narrow(0, s0, rows));
  const GradFeatures f = compute_features(xs, gos, c.plan, rows, false);
  std::vector<int64_t> seg(segments + 1);
  for (int64_t r = item.r0; r <= item.r1; ++r) seg[r - item.r0] = off[r] - s0;
  const at::Tensor seg_dev = to_device(seg, c.x.device());
  add_point_norms(c, f, seg_dev, segments, item.r0);

  at::Tensor region_sq = c.region_sq.narrow(0, item.r0, segments);
  auto stream = at::cuda::getCurrentCUDAStream();
  for (size_t l = 0; l < f.layers(); ++l) {
    const int64_t wd = f.deltas[l].size(1), wa = f.inputs[l].size(1);
    const bool has_bias = c.plan[l].has_bias();
    const int64_t cutoff = pairwise_cutoff(wd, wa);
    std::vector<int64_t> big_start, big_len, big_local;
    for (int64_t r = 0; r < segments; ++r) {
      if (seg[r + 1] - seg[r] > cutoff) {
        big_start.push_back(seg[r]);
        big_len.push_back(seg[r + 1] - seg[r]);
        big_local.push_back(r);
      }
    }
    // One host-to-device copy for the three lists.
    std::vector<int64_t> big_all(big_start);
    big_all.insert(big_all.end(), big_len.begin(), big_len.end());
    big_all.insert(big_all.end(), big_local.begin(), big_local.end());
    AT_DISPATCH_FLOATING_TYPES(c.x.scalar_type(), "region_grad_norms_cuda", [&] {
      const scalar_t* dp = f.deltas[l].data_ptr<scalar_t>();
      const scalar_t* ap = f.inputs[l].data_ptr<scalar_t>();
      if (static_cast<int64_t>(big_start.size()) < segments) {
        pairwise_kernel<scalar_t><<<segments, 128, 0, stream>>>(
            dp, wd, ap, wa, seg_dev.data_ptr<int64_t>(), cutoff, f.bias[l],
            region_sq.data_ptr<double>());
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      if (!big_start.empty()) {
        const int64_t big = static_cast<int64_t>(big_start.size());
        const int64_t tiles_o = (wd + kTile - 1) / kTile;
        const int64_t tiles_i = (wa + (has_bias ? 1 : 0) + kTile - 1) / kTile;
        at::Tensor partial = at::empty({big, tiles_o * tiles_i}, region_sq.options());
        const at::Tensor big_dev = to_device(big_all, c.x.device());
        const at::Tensor start_dev = big_dev.narrow(0, 0, big);
        const at::Tensor len_dev = big_dev.narrow(0, big, big);
        outer_sum_tiles_kernel<scalar_t>
            <<<dim3(static_cast<unsigned>(big), static_cast<unsigned>(tiles_o * tiles_i)),
               dim3(kTile, 8), 0, stream>>>(dp, wd, ap, wa, start_dev.data_ptr<int64_t>(),
                                            len_dev.data_ptr<int64_t>(), tiles_i, has_bias,
                                            partial.data_ptr<double>());
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        region_sq.index_add_(0, big_dev.narrow(0, 2 * big, big), partial.sum(1));
      }
    });
  }
}

// One region with more members than an item holds: sub-chunks, sum_i delta_i a_i^T and
// sum_i delta_i accumulated in float64 with cuBLAS, norms at the end.
void process_large_region(const ItemContext& c, int64_t r) {
  const int64_t s0 = c.offsets[r], s1 = c.offsets[r + 1];
  const size_t layers = c.plan.size();
  const auto dopt = c.x.options().dtype(at::kDouble);
  std::vector<at::Tensor> m_acc, b_acc;  // b_acc[l] stays empty for a layer without bias
  for (size_t l = 0; l < layers; ++l) {
    const at::Tensor& w = c.plan[l].weight;
    m_acc.push_back(at::zeros({w.size(0), w.size(1)}, dopt));
    b_acc.push_back(at::zeros({c.plan[l].has_bias() ? w.size(0) : 0}, dopt));
  }
  for (int64_t c0 = s0; c0 < s1; c0 += c.cap) {
    const int64_t rows = std::min(c.cap, s1 - c0);
    auto [xs, gos] = gather_rows(c.x, c.grad_out, c.order.narrow(0, c0, rows));
    const GradFeatures f = compute_features(xs, gos, c.plan, rows, false);
    const at::Tensor seg_dev = to_device({0, rows}, c.x.device());
    add_point_norms(c, f, seg_dev, 1, r);
    for (size_t l = 0; l < layers; ++l) {
      m_acc[l].addmm_(f.deltas[l].t().to(at::kDouble), f.inputs[l].to(at::kDouble));
      if (c.plan[l].has_bias()) b_acc[l].add_(f.deltas[l].sum(0, false, at::kDouble));
    }
  }
  at::Tensor sq = at::zeros({}, dopt);
  for (size_t l = 0; l < layers; ++l) sq += m_acc[l].square().sum() + b_acc[l].square().sum();
  c.region_sq.narrow(0, r, 1).add_(sq);
}

std::tuple<at::Tensor, at::Tensor> region_grad_norms_cuda(
    const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
    const at::Tensor& grad_out_in, const at::Tensor& ids, int64_t num_regions, SlopeList slopes,
    const FlagList& input_skip, const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const IeeeFloat32Guard ieee;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_region_grad_norms_inputs(x_in, net, grad_out_in, ids, num_regions);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const auto dopt = x.options().dtype(at::kDouble);
  at::Tensor region_sq = at::zeros({num_regions}, dopt);
  at::Tensor sum_of_norms = at::zeros({num_regions}, dopt);
  if (x.size(0) > 0) {
    const at::Tensor order = std::get<1>(at::sort(ids, /*stable=*/true, 0, false));
    const at::Tensor counts = at::bincount(ids, {}, num_regions).cpu();
    std::vector<int64_t> offsets(num_regions + 1, 0);
    const int64_t* cnt = counts.data_ptr<int64_t>();
    for (int64_t r = 0; r < num_regions; ++r) offsets[r + 1] = offsets[r] + cnt[r];
    const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
    const int64_t cap = cuda::feature_chunk_rows(plan, x.element_size());
    ItemContext c{x, grad_out, plan, order, offsets, region_sq, sum_of_norms, cap};
    for (const RegionItem& item : region_items(offsets, cap)) {
      if (offsets[item.r1] == offsets[item.r0]) continue;
      if (item.r1 - item.r0 == 1 && offsets[item.r1] - offsets[item.r0] > cap) {
        process_large_region(c, item.r0);
      } else {
        process_regions(c, item);
      }
    }
  }
  return {region_sq.clamp_min_(0).sqrt_().to(x.scalar_type()), sum_of_norms.to(x.scalar_type())};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("region_grad_norms", &region_grad_norms_cuda); }

}  // namespace specbias
