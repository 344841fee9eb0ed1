// Block of the per-example gradient Gram matrix on the CPU. The features (a_{l-1}, delta_l) of the
// row points and of the column points are computed once (O(N * width)); then each
// at::parallel_for task owns output tiles and accumulates, in float64,
//   G_tile = sum_l (D_r D_c^T) * (A_r A_c^T + [bias_l])   (A = the layer inputs in_l)
// from two tile-sized GEMMs per layer, so no N x N temporary exists besides the output. The
// full Gram matrix (rows = cols = None) computes only the upper tiles and mirrors them.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/network.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kTileRows;
using cpu::kGramTile;

GradFeatures features_of(const at::Tensor& x, const at::Tensor& grad_out,
                         const std::optional<at::Tensor>& idx,
                         const std::vector<LayerPlan>& plan) {
  if (!idx.has_value()) return compute_features(x, grad_out, plan, kTileRows, true);
  auto [xs, gos] = gather_rows(x, grad_out, *idx);
  return compute_features(xs, gos, plan, kTileRows, true);
}

// acc += dd * (aa + bias), elementwise over one output tile.
template <typename scalar_t>
void accumulate_layer(double* acc, const scalar_t* dd, const scalar_t* aa, int64_t count,
                      double bias) {
#pragma omp simd
  for (int64_t e = 0; e < count; ++e) acc[e] += double(dd[e]) * (double(aa[e]) + bias);
}

at::Tensor grad_gram_cpu(const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
                         const at::Tensor& grad_out_in, const std::optional<at::Tensor>& rows,
                         const std::optional<at::Tensor>& cols, SlopeList slopes,
                         const FlagList& input_skip, const FlagList& residual,
                         ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_gram_inputs(x_in, net, grad_out_in, rows, cols);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const bool symmetric = !rows.has_value() && !cols.has_value();

  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  const GradFeatures fr = features_of(x, grad_out, rows, plan);
  const GradFeatures fc = symmetric ? fr : features_of(x, grad_out, cols, plan);
  const int64_t nr = fr.rows(), nc = fc.rows();
  at::Tensor out = at::empty({nr, nc}, x.options());
  if (nr == 0 || nc == 0) return out;

  const int64_t tr_count = (nr + kGramTile - 1) / kGramTile;
  const int64_t tc_count = (nc + kGramTile - 1) / kGramTile;
  std::vector<std::pair<int64_t, int64_t>> tiles;
  for (int64_t tr = 0; tr < tr_count; ++tr) {
    for (int64_t tc = symmetric ? tr : 0; tc < tc_count; ++tc) tiles.emplace_back(tr, tc);
  }
  const size_t layers = weights.size();

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grad_gram_cpu", [&] {
    scalar_t* out_ptr = out.data_ptr<scalar_t>();
    at::parallel_for(0, static_cast<int64_t>(tiles.size()), 1, [&](int64_t k0, int64_t k1) {
      const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
      at::Tensor dd = at::empty({kGramTile, kGramTile}, x.options());
      at::Tensor aa = at::empty({kGramTile, kGramTile}, x.options());
      std::vector<double> acc(kGramTile * kGramTile);
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t r0 = tiles[k].first * kGramTile, c0 = tiles[k].second * kGramTile;
        const int64_t tr = std::min(kGramTile, nr - r0), tc = std::min(kGramTile, nc - c0);
        at::Tensor dd_t = dd.view(-1).narrow(0, 0, tr * tc).view({tr, tc});
        at::Tensor aa_t = aa.view(-1).narrow(0, 0, tr * tc).view({tr, tc});
        std::fill(acc.begin(), acc.begin() + tr * tc, 0.0);
        for (size_t l = 0; l < layers; ++l) {
          at::mm_out(dd_t, fr.deltas[l].narrow(0, r0, tr), fc.deltas[l].narrow(0, c0, tc).t());
          at::mm_out(aa_t, fr.inputs[l].narrow(0, r0, tr), fc.inputs[l].narrow(0, c0, tc).t());
          const scalar_t* dp = dd_t.data_ptr<scalar_t>();
          const scalar_t* ap = aa_t.data_ptr<scalar_t>();
          accumulate_layer(acc.data(), dp, ap, tr * tc, fr.bias[l]);
        }
        for (int64_t r = 0; r < tr; ++r) {
          for (int64_t c = 0; c < tc; ++c) {
            const scalar_t v = static_cast<scalar_t>(acc[r * tc + c]);
            out_ptr[(r0 + r) * nc + (c0 + c)] = v;
            if (symmetric) out_ptr[(c0 + c) * nc + (r0 + r)] = v;
          }
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("grad_gram", &grad_gram_cpu); }

}  // namespace specbias
