// Exact per-region gradient norms on the CPU: ||sum_{i in S_r} g_i|| and sum_{i in S_r} ||g_i||.
// Points are grouped by id (stable counting sort); at::parallel_for runs over work items (runs of
// whole regions of at most kRegionItemRows points, or one larger region in sub-chunks). For each
// item one forward and backward pass gives the features; then per region and layer either the
// pairwise sum of (delta_i . delta_j)(in_i . in_j + [bias_l]) (small regions) or the Frobenius
// norm of sum_i delta_i [in_i, 1]^T (one GEMM; large regions; the "1" column only for a layer
// with a bias). Sums are accumulated in float64.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/network.h"
#include "../common/region_groups.h"
#include "grad_reduce.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kRegionItemRows;

// sum_{i,j < n} (d_i . d_j)(a_i . a_j + bias) over rows s..s+n-1 of d [*, width] and
// a [*, in].
template <typename scalar_t>
double pairwise_sum(const scalar_t* d, int64_t width, const scalar_t* a, int64_t in, int64_t s,
                    int64_t n, double bias) {
  double total = 0;
  for (int64_t p = s; p < s + n; ++p) {
    const scalar_t* dp = d + p * width;
    const scalar_t* ap = a + p * in;
    total += cpu::sq_norm(dp, width) * (cpu::sq_norm(ap, in) + bias);
    for (int64_t q = p + 1; q < s + n; ++q) {
      total += 2.0 * cpu::dot(dp, d + q * width, width) * (cpu::dot(ap, a + q * in, in) + bias);
    }
  }
  return total;
}

// Adds the column sums of rows s..s+n-1 of d [*, width] to acc [width].
template <typename scalar_t>
void add_column_sums(const scalar_t* d, int64_t width, int64_t s, int64_t n, double* acc) {
  for (int64_t p = s; p < s + n; ++p) {
    const scalar_t* dp = d + p * width;
#pragma omp simd
    for (int64_t k = 0; k < width; ++k) acc[k] += double(dp[k]);
  }
}

template <typename scalar_t>
void process_item(const RegionItem& item, const at::Tensor& x, const at::Tensor& grad_out,
                  const Network& net, const std::vector<LayerPlan>& plan, const RegionOrder& ro,
                  double* norm_of_sum, double* sum_of_norms) {
  const std::vector<int64_t>& off = ro.offsets;
  const int64_t s0 = off[item.r0], s1 = off[item.r1];
  if (s1 == s0) return;
  const std::vector<at::Tensor>& weights = net.weights;
  const size_t layers = weights.size();
  const bool split = (item.r1 - item.r0 == 1) && (s1 - s0 > kRegionItemRows);
  std::vector<double> region_sq(item.r1 - item.r0, 0.0);
  std::vector<at::Tensor> m_acc;         // split region: sum_i delta_i a_i^T per layer, float64
  std::vector<std::vector<double>> b_acc;  // split region: sum_i delta_i per layer (with a bias)
  if (split) {
    for (size_t l = 0; l < layers; ++l) {
      m_acc.push_back(at::zeros({weights[l].size(0), weights[l].size(1)},
                                x.options().dtype(at::kDouble)));
      b_acc.emplace_back(net.has_bias(l) ? weights[l].size(0) : 0, 0.0);
    }
  }
  for (int64_t c0 = s0; c0 < s1; c0 += kRegionItemRows) {
    const int64_t cm = std::min(kRegionItemRows, s1 - c0);
    auto [xs, gos] = gather_rows(x, grad_out, ro.order.narrow(0, c0, cm));
    GradFeatures f = alloc_features(cm, x.options(), plan);
    forward_backward_into(xs, gos, plan, f);

    int64_t r = item.r0;
    for (int64_t p = 0; p < cm; ++p) {
      while (off[r + 1] <= c0 + p) ++r;
      double g2 = 0;
      for (size_t l = 0; l < layers; ++l) {
        const int64_t in = f.inputs[l].size(1), width = f.deltas[l].size(1);
        g2 += cpu::sq_norm(f.deltas[l].data_ptr<scalar_t>() + p * width, width) *
              (cpu::sq_norm(f.inputs[l].data_ptr<scalar_t>() + p * in, in) + f.bias[l]);
      }
      sum_of_norms[r] += std::sqrt(g2);
    }

    for (size_t l = 0; l < layers; ++l) {
      const at::Tensor& dl = f.deltas[l];
      const at::Tensor& al = f.inputs[l];
      const int64_t in = al.size(1), width = dl.size(1);
      const scalar_t* dp = dl.data_ptr<scalar_t>();
      const scalar_t* ap = al.data_ptr<scalar_t>();
      if (split) {
        m_acc[l].add_(at::mm(dl.t(), al));
        if (net.has_bias(l)) add_column_sums(dp, width, 0, cm, b_acc[l].data());
        continue;
      }
      const int64_t cutoff = pairwise_cutoff(width, in);
      for (int64_t rr = item.r0; rr < item.r1; ++rr) {
        const int64_t s = off[rr] - c0, n = off[rr + 1] - off[rr];
        if (n == 0) continue;
        if (n <= cutoff) {
          region_sq[rr - item.r0] += pairwise_sum(dp, width, ap, in, s, n, f.bias[l]);
        } else {
          const at::Tensor m = at::mm(dl.narrow(0, s, n).t(), al.narrow(0, s, n));
          region_sq[rr - item.r0] += cpu::sq_norm(m.data_ptr<scalar_t>(), m.numel());
          if (net.has_bias(l)) {
            std::vector<double> bias(width, 0.0);
            add_column_sums(dp, width, s, n, bias.data());
            region_sq[rr - item.r0] += cpu::sq_norm(bias.data(), width);
          }
        }
      }
    }
  }
  if (split) {
    for (size_t l = 0; l < layers; ++l) {
      region_sq[0] += cpu::sq_norm(m_acc[l].data_ptr<double>(), m_acc[l].numel()) +
                      cpu::sq_norm(b_acc[l].data(), static_cast<int64_t>(b_acc[l].size()));
    }
  }
  for (int64_t rr = item.r0; rr < item.r1; ++rr) {
    // Rounding can leave a tiny negative sum for a region whose gradients cancel exactly.
    norm_of_sum[rr] = std::sqrt(std::max(0.0, region_sq[rr - item.r0]));
  }
}

std::tuple<at::Tensor, at::Tensor> region_grad_norms_cpu(
    const at::Tensor& x_in, at::TensorList weights, const BiasList& biases,
    const at::Tensor& grad_out_in, const at::Tensor& ids, int64_t num_regions, SlopeList slopes,
    const FlagList& input_skip, const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_region_grad_norms_inputs(x_in, net, grad_out_in, ids, num_regions);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const RegionOrder ro = sort_by_region_cpu(ids, num_regions);
  const std::vector<RegionItem> items = region_items(ro.offsets, kRegionItemRows);
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);

  at::Tensor norm_of_sum = at::zeros({num_regions}, x.options().dtype(at::kDouble));
  at::Tensor sum_of_norms = at::zeros({num_regions}, x.options().dtype(at::kDouble));
  double* nos = norm_of_sum.data_ptr<double>();
  double* son = sum_of_norms.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "region_grad_norms_cpu", [&] {
    at::parallel_for(0, static_cast<int64_t>(items.size()), 1, [&](int64_t k0, int64_t k1) {
      const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
      for (int64_t k = k0; k < k1; ++k) {
        process_item<scalar_t>(items[k], x, grad_out, net, plan, ro, nos, son);
      }
    });
  });
  return {norm_of_sum.to(x.scalar_type()), sum_of_norms.to(x.scalar_type())};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("region_grad_norms", &region_grad_norms_cpu); }

}  // namespace specbias
