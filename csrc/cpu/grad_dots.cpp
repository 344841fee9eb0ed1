// Per-example gradient inner products of index pairs on the CPU. Pairs run in blocks: the distinct
// points of a block's i[p] and j[p] are gathered (samplers reuse points across many pairs), their
// features computed once in parallel tiles, and
// <g_i, g_j> = sum_l (delta_l^i . delta_l^j)(in_l^i . in_l^j + [bias_l]) reduced per pair.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/network.h"
#include "grad_reduce.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kPairBlock;
using cpu::kTileRows;

at::Tensor grad_dots_cpu(const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
                         const at::Tensor& grad_out_in, const at::Tensor& i, const at::Tensor& j,
                         SlopeList slopes, const FlagList& input_skip,
                         const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_dots_inputs(x_in, net, grad_out_in, i, j);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const int64_t pairs = i.size(0);
  at::Tensor out = at::empty({pairs}, x.options());
  const size_t layers = weights.size();
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);

  for (int64_t p0 = 0; p0 < pairs; p0 += kPairBlock) {
    const int64_t np = std::min(kPairBlock, pairs - p0);
    const DistinctRows rows = distinct_rows(i.narrow(0, p0, np), j.narrow(0, p0, np));
    auto [xs, gos] = gather_rows(x, grad_out, rows.points);
    const GradFeatures f = compute_features(xs, gos, plan, kTileRows, true);
    const int64_t* ri = rows.row_i.data_ptr<int64_t>();
    const int64_t* rj = rows.row_j.data_ptr<int64_t>();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grad_dots_cpu", [&] {
      scalar_t* out_ptr = out.data_ptr<scalar_t>() + p0;
      at::parallel_for(0, np, cpu::kGradPairGrain, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          double s = 0;
          for (size_t l = 0; l < layers; ++l) {
            const int64_t in = f.inputs[l].size(1), width = f.deltas[l].size(1);
            const scalar_t* a = f.inputs[l].data_ptr<scalar_t>();
            const scalar_t* d = f.deltas[l].data_ptr<scalar_t>();
            const double dd = cpu::dot(d + ri[q] * width, d + rj[q] * width, width);
            const double aa = cpu::dot(a + ri[q] * in, a + rj[q] * in, in);
            s += dd * (aa + f.bias[l]);
          }
          out_ptr[q] = static_cast<scalar_t>(s);
        }
      });
    });
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("grad_dots", &grad_dots_cpu); }

}  // namespace specbias
