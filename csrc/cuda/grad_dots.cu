// Per-example gradient inner products of index pairs on the GPU: blocks of pairs, the distinct
// points of [i; j] gathered and their features computed once with cuBLAS, then one warp per pair
// and layer accumulates (delta_l^i . delta_l^j)(in_l^i . in_l^j + [bias_l]) in float64.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/ieee_float32.h"
#include "../common/network.h"
#include "grad_kernels.cuh"

namespace specbias {
namespace {

at::Tensor grad_dots_cuda(const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
                          const at::Tensor& grad_out_in, const at::Tensor& i,
                          const at::Tensor& j, SlopeList slopes, const FlagList& input_skip,
                          const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const IeeeFloat32Guard ieee;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_dots_inputs(x_in, net, grad_out_in, i, j);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const int64_t pairs = i.size(0);
  at::Tensor out = at::empty({pairs}, x.options());
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  // Each pair brings at most two distinct points.
  const int64_t block = cuda::feature_chunk_rows(plan, x.element_size()) / 2;
  for (int64_t p0 = 0; p0 < pairs; p0 += block) {
    const int64_t np = std::min(block, pairs - p0);
    const DistinctRows rows = distinct_rows(i.narrow(0, p0, np), j.narrow(0, p0, np));
    auto [xs, gos] = gather_rows(x, grad_out, rows.points);
    const GradFeatures f = compute_features(xs, gos, plan, 2 * np, false);
    at::Tensor acc = at::zeros({np}, x.options().dtype(at::kDouble));
    cuda::accumulate_pair_products(f, rows.row_i, rows.row_j, acc);
    out.narrow(0, p0, np).copy_(acc);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("grad_dots", &grad_dots_cuda); }

}  // namespace specbias
