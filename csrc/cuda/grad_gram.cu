// Block of the per-example gradient Gram matrix on the GPU. Features (a_{l-1}, delta_l) of the row
// and column points are computed once (O(N * width)); each output tile is then
// sum_l (D_r D_c^T) * (A_r A_c^T + [bias_l]): two cuBLAS GEMMs per layer into tile buffers and a fused
// kernel that accumulates in float64. The full matrix computes the upper tiles and mirrors them.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <optional>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/ieee_float32.h"
#include "../common/network.h"
#include "grad_kernels.cuh"

namespace specbias {
namespace {

using cuda::kGramTile;

template <typename T>
__global__ void gram_accumulate_kernel(const T* __restrict__ dd, const T* __restrict__ aa,
                                       int64_t count, double bias, double* __restrict__ acc) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += int64_t(gridDim.x) * blockDim.x) {
    acc[e] += double(dd[e]) * (double(aa[e]) + bias);
  }
}

GradFeatures features_of(const at::Tensor& x, const at::Tensor& grad_out,
                         const std::optional<at::Tensor>& idx,
                         const std::vector<LayerPlan>& plan) {
  const int64_t chunk = cuda::feature_chunk_rows(plan, x.element_size());
  if (!idx.has_value()) return compute_features(x, grad_out, plan, chunk, false);
  auto [xs, gos] = gather_rows(x, grad_out, *idx);
  return compute_features(xs, gos, plan, chunk, false);
}

at::Tensor grad_gram_cuda(const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
                          const at::Tensor& grad_out_in, const std::optional<at::Tensor>& rows,
                          const std::optional<at::Tensor>& cols, SlopeList slopes,
                          const FlagList& input_skip, const FlagList& residual,
                          ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const IeeeFloat32Guard ieee;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_gram_inputs(x_in, net, grad_out_in, rows, cols);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const bool symmetric = !rows.has_value() && !cols.has_value();

  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  const GradFeatures fr = features_of(x, grad_out, rows, plan);
  const GradFeatures fc = symmetric ? fr : features_of(x, grad_out, cols, plan);
  const int64_t nr = fr.rows(), nc = fc.rows();
  at::Tensor out = at::empty({nr, nc}, x.options());
  if (nr == 0 || nc == 0) return out;

  const int64_t tile_r = std::min(kGramTile, nr), tile_c = std::min(kGramTile, nc);
  at::Tensor dd = at::empty({tile_r * tile_c}, x.options());
  at::Tensor aa = at::empty({tile_r * tile_c}, x.options());
  at::Tensor acc = at::empty({tile_r * tile_c}, x.options().dtype(at::kDouble));
  auto stream = at::cuda::getCurrentCUDAStream();
  for (int64_t r0 = 0; r0 < nr; r0 += tile_r) {
    for (int64_t c0 = symmetric ? r0 : 0; c0 < nc; c0 += tile_c) {
      const int64_t tr = std::min(tile_r, nr - r0), tc = std::min(tile_c, nc - c0);
      at::Tensor dd_t = dd.narrow(0, 0, tr * tc).view({tr, tc});
      at::Tensor aa_t = aa.narrow(0, 0, tr * tc).view({tr, tc});
      at::Tensor acc_t = acc.narrow(0, 0, tr * tc).view({tr, tc});
      acc_t.zero_();
      for (size_t l = 0; l < weights.size(); ++l) {
        at::mm_out(dd_t, fr.deltas[l].narrow(0, r0, tr), fc.deltas[l].narrow(0, c0, tc).t());
        at::mm_out(aa_t, fr.inputs[l].narrow(0, r0, tr), fc.inputs[l].narrow(0, c0, tc).t());
        const int threads = cuda::kThreads;
        const int64_t blocks = std::min<int64_t>((tr * tc + threads - 1) / threads, 65536);
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grad_gram_cuda", [&] {
          gram_accumulate_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
              dd_t.data_ptr<scalar_t>(), aa_t.data_ptr<scalar_t>(), tr * tc, fr.bias[l],
              acc_t.data_ptr<double>());
        });
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      out.narrow(0, r0, tr).narrow(1, c0, tc).copy_(acc_t);
      if (symmetric && c0 != r0) out.narrow(0, c0, tc).narrow(1, r0, tr).copy_(acc_t.t());
    }
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("grad_gram", &grad_gram_cuda); }

}  // namespace specbias
