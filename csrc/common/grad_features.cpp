#include "grad_features.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

namespace specbias {
namespace {

// z_l needs keeping where a_l does not tell its sign: a residual add, or a negative slope
// (slope * z > 0 for z < 0). For ReLU and positive slopes a_l > 0 exactly where z_l > 0.
bool keeps_pre(const Network& net, size_t l) {
  return net.residual[l] || net.slopes[l] < 0.0;
}

bool keeps_grad_act(const Network& net, size_t l) { return l >= 1 && net.residual[l]; }

// a_l inside in_{l+1}: the whole tensor, or its first columns for an input skip.
at::Tensor activation_view(const GradFeatures& f, const Network& net, size_t l) {
  const at::Tensor& in = f.inputs[l + 1];
  return net.input_skip[l + 1] ? in.narrow(1, 0, net.weights[l].size(0)) : in;
}

void linear_out(at::Tensor& out, const at::Tensor& in, const Network& net, size_t l) {
  if (net.has_bias(l)) {
    at::addmm_out(out, *net.biases[l], in, net.weights[l].t());
  } else {
    at::mm_out(out, in, net.weights[l].t());
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

GradFeatures alloc_features(int64_t n, const at::TensorOptions& options, const Network& net) {
  const size_t L = net.hidden_layers();
  GradFeatures f;
  f.inputs.emplace_back();
  for (size_t l = 1; l <= L; ++l) f.inputs.push_back(at::empty({n, net.weights[l].size(1)}, options));
  for (size_t l = 0; l < L; ++l) f.deltas.push_back(at::empty({n, net.weights[l].size(0)}, options));
  f.deltas.emplace_back();
  for (size_t l = 0; l <= L; ++l) f.bias.push_back(net.has_bias(l) ? 1.0 : 0.0);
  f.pre.resize(L);
  f.grad_act.resize(L);
  for (size_t l = 0; l < L; ++l) {
    const int64_t w = net.weights[l].size(0);
    if (keeps_pre(net, l)) f.pre[l] = at::empty({n, w}, options);
    if (keeps_grad_act(net, l)) f.grad_act[l] = at::empty({n, w}, options);
  }
  return f;
}

int64_t feature_row_elements(const Network& net) {
  int64_t per_row = net.weights[0].size(1);
  for (size_t l = 0; l < net.layers(); ++l) {
    per_row += net.weights[l].size(0) + (l >= 1 ? net.weights[l].size(1) : 0);
    if (l < net.hidden_layers()) {
      if (keeps_pre(net, l)) per_row += net.weights[l].size(0);
      if (keeps_grad_act(net, l)) per_row += net.weights[l].size(0);
    }
  }
  return per_row;
}

void forward_backward_into(const at::Tensor& x_rows, const at::Tensor& go_rows,
                           const Network& net, GradFeatures& out) {
  const size_t L = net.hidden_layers();
  const int64_t in_dim = x_rows.size(1);
  out.inputs[0] = x_rows;
  out.deltas[L] = go_rows;
  for (size_t l = 0; l < L; ++l) {
    at::Tensor a = activation_view(out, net, l);
    if (net.input_skip[l + 1]) {
      out.inputs[l + 1].narrow(1, net.weights[l].size(0), in_dim).copy_(x_rows);
    }
    const double slope = net.slopes[l];
    if (keeps_pre(net, l)) {
      at::Tensor& z = out.pre[l];
      linear_out(z, out.inputs[l], net, l);
      if (slope == 0.0) {
        at::clamp_min_out(a, z, 0);
      } else {
        at::leaky_relu_out(a, z, slope);
      }
      if (net.residual[l]) a.add_(l == 0 ? x_rows : activation_view(out, net, l - 1));
    } else {
      linear_out(a, out.inputs[l], net, l);
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
    at::Tensor u = keeps_grad_act(net, h) ? out.grad_act[h] : d;
    const at::Tensor& w = net.weights[l];
    // u_h = (W_l^a)^T delta_l (+ u_l through layer l's identity path).
    at::mm_out(u, out.deltas[l], net.input_skip[l] ? w.narrow(1, 0, net.weights[h].size(0)) : w);
    if (l < L && net.residual[l]) u.add_(out.grad_act[l]);
    // The mask of act_h: where z_h > 0, read from a_h (> 0 exactly there) unless z_h is kept.
    const at::Tensor sign_of = keeps_pre(net, h) ? out.pre[h] : activation_view(out, net, h);
    if (net.slopes[h] == 0.0) {
      at::threshold_backward_out(d, u, sign_of, 0);
    } else {
      at::leaky_relu_backward_out(d, u, sign_of, net.slopes[h], /*self_is_result=*/false);
    }
  }
}

GradFeatures compute_features(const at::Tensor& x, const at::Tensor& grad_out,
                              const Network& net, int64_t tile_rows, bool parallel) {
  const int64_t n = x.size(0);
  GradFeatures f = alloc_features(n, x.options(), net);
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
      forward_backward_into(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows), net, view);
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
