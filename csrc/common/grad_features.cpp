#include "grad_features.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

namespace specbias {
namespace {

// z_l needs keeping where a_l does not tell its sign: a residual add, or a negative slope
// (slope * z > 0 for z < 0). For ReLU and positive slopes a_l > 0 exactly where z_l > 0.
bool keeps_pre(const LayerPlan& layer) { return layer.residual || layer.slope < 0.0; }

bool keeps_grad_act(const std::vector<LayerPlan>& plan, size_t l) {
  return l >= 1 && plan[l].residual;
}

// a_l inside in_{l+1}: the whole tensor, or its first columns for an input skip.
at::Tensor activation_view(const GradFeatures& f, const std::vector<LayerPlan>& plan, size_t l) {
  const at::Tensor& in = f.inputs[l + 1];
  return plan[l + 1].has_skip() ? in.narrow(1, 0, plan[l].width()) : in;
}

void linear_out(at::Tensor& out, const at::Tensor& in, const LayerPlan& layer) {
  if (layer.has_bias()) {
    at::addmm_out(out, layer.bias, in, layer.weight.t());
  } else {
    at::mm_out(out, in, layer.weight.t());
  }
}

}  // namespace

GradFeatures GradFeatures::narrow(int64_t r0, int64_t n) const {
  auto rows_of = [&](const std::vector<at::Tensor>& ts) {
    std::vector<at::Tensor> out;
    for (const auto& t : ts) out.push_back(t.defined() ? t.narrow(0, r0, n) : t);
    return out;
  };
  GradFeatures f;
  f.inputs = rows_of(inputs);
  f.deltas = rows_of(deltas);
  f.pre = rows_of(pre);
  f.grad_act = rows_of(grad_act);
  f.bias = bias;
  return f;
}

GradFeatures alloc_features(int64_t n, const at::TensorOptions& options,
                            const std::vector<LayerPlan>& plan) {
  const size_t L = plan.size() - 1;
  GradFeatures f;
  f.inputs.emplace_back();
  for (size_t l = 1; l <= L; ++l) {
    f.inputs.push_back(at::empty({n, plan[l].weight.size(1)}, options));
  }
  for (size_t l = 0; l < L; ++l) f.deltas.push_back(at::empty({n, plan[l].width()}, options));
  f.deltas.emplace_back();
  for (size_t l = 0; l <= L; ++l) f.bias.push_back(plan[l].has_bias() ? 1.0 : 0.0);
  f.pre.resize(L);
  f.grad_act.resize(L);
  for (size_t l = 0; l < L; ++l) {
    const int64_t w = plan[l].width();
    if (keeps_pre(plan[l])) f.pre[l] = at::empty({n, w}, options);
    if (keeps_grad_act(plan, l)) f.grad_act[l] = at::empty({n, w}, options);
  }
  return f;
}

int64_t feature_row_elements(const std::vector<LayerPlan>& plan) {
  const size_t L = plan.size() - 1;
  int64_t per_row = plan[0].weight.size(1);
  for (size_t l = 0; l <= L; ++l) {
    per_row += plan[l].width() + (l >= 1 ? plan[l].weight.size(1) : 0);
    if (l < L) {
      if (keeps_pre(plan[l])) per_row += plan[l].width();
      if (keeps_grad_act(plan, l)) per_row += plan[l].width();
    }
  }
  return per_row;
}

void forward_backward_into(const at::Tensor& x_rows, const at::Tensor& go_rows,
                           const std::vector<LayerPlan>& plan, GradFeatures& out) {
  const size_t L = plan.size() - 1;
  out.inputs[0] = x_rows;
  out.deltas[L] = go_rows;
  for (size_t l = 0; l < L; ++l) {
    const LayerPlan& layer = plan[l];
    at::Tensor a = activation_view(out, plan, l);
    const LayerPlan& next = plan[l + 1];
    if (next.has_skip()) {
      out.inputs[l + 1].narrow(1, layer.width(), next.w_skip_t.size(0))
          .copy_(next.skip_input(x_rows));
    }
    const double slope = layer.slope;
    if (keeps_pre(layer)) {
      at::Tensor& z = out.pre[l];
      linear_out(z, out.inputs[l], layer);
      if (slope == 0.0) {
        at::clamp_min_out(a, z, 0);
      } else {
        at::leaky_relu_out(a, z, slope);
      }
      if (layer.residual) a.add_(l == 0 ? x_rows : activation_view(out, plan, l - 1));
    } else {
      linear_out(a, out.inputs[l], layer);
      if (slope == 0.0) {
        a.relu_();
      } else {
        at::leaky_relu_(a, slope);
      }
    }
  }
  for (size_t l = L; l > 0; --l) {
    const size_t h = l - 1;  // the hidden layer whose delta this step computes
    at::Tensor& d = out.deltas[h];
    at::Tensor u = keeps_grad_act(plan, h) ? out.grad_act[h] : d;
    // u_h = (W_l^a)^T delta_l (+ u_l through layer l's identity path).
    at::mm_out(u, out.deltas[l], plan[l].w_prev_t.t());
    if (l < L && plan[l].residual) u.add_(out.grad_act[l]);
    // The mask of act_h: where z_h > 0, read from a_h (> 0 exactly there) unless z_h is kept.
    const at::Tensor sign_of = keeps_pre(plan[h]) ? out.pre[h] : activation_view(out, plan, h);
    if (plan[h].slope == 0.0) {
      at::threshold_backward_out(d, u, sign_of, 0);
    } else {
      at::leaky_relu_backward_out(d, u, sign_of, plan[h].slope, /*self_is_result=*/false);
    }
  }
}

GradFeatures compute_features(const at::Tensor& x, const at::Tensor& grad_out,
                              const std::vector<LayerPlan>& plan, int64_t tile_rows,
                              bool parallel) {
  const int64_t n = x.size(0);
  GradFeatures f = alloc_features(n, x.options(), plan);
  f.inputs[0] = x;
  f.deltas.back() = grad_out;
  if (n == 0) return f;
  const int64_t tiles = (n + tile_rows - 1) / tile_rows;
  auto run_tiles = [&](int64_t t0, int64_t t1) {
    const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tile_rows;
      const int64_t rows = std::min(tile_rows, n - r0);
      GradFeatures view = f.narrow(r0, rows);
      forward_backward_into(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows), plan, view);
    }
  };
  if (parallel) {
    at::parallel_for(0, tiles, 1, run_tiles);
  } else {
    run_tiles(0, tiles);
  }
  return f;
}

std::pair<at::Tensor, at::Tensor> gather_rows(const at::Tensor& x, const at::Tensor& grad_out,
                                              const at::Tensor& idx) {
  return {x.index_select(0, idx).contiguous(), grad_out.index_select(0, idx).contiguous()};
}

DistinctRows distinct_rows(const at::Tensor& i, const at::Tensor& j) {
  const int64_t pairs = i.size(0);
  auto [points, inverse] = at::_unique(at::cat({i, j}), /*sorted=*/true, /*return_inverse=*/true);
  return {points, inverse.narrow(0, 0, pairs).contiguous(),
          inverse.narrow(0, pairs, pairs).contiguous()};
}

}  // namespace specbias
