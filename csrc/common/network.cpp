#include "network.h"

#include <cmath>
#include <limits>

namespace specbias {

bool Network::plain() const {
  for (size_t l = 0; l < layers(); ++l) {
    if (!has_bias(l) || input_skip[l]) return false;
  }
  for (size_t l = 0; l < hidden_layers(); ++l) {
    if (slopes[l] != 0.0 || residual[l]) return false;
  }
  return true;
}

int64_t Network::prev_width(size_t l) const {
  return l == 0 ? weights[0].size(1) : weights[l - 1].size(0);
}

int64_t Network::total_hidden() const {
  int64_t h = 0;
  for (size_t l = 0; l < hidden_layers(); ++l) h += weights[l].size(0);
  return h;
}

Network make_network(at::TensorList weights, const BiasList& biases, SlopeList slopes,
                     const FlagList& input_skip, const FlagList& residual,
                     ColumnList skip_columns) {
  const size_t n = weights.size();
  TORCH_CHECK(n >= 2,
              "weights: expected at least 2 layers (one hidden layer and the linear head), got ",
              n);
  TORCH_CHECK(biases.size() == n, "biases: expected one bias per weight (", n,
              "; None for a layer without bias), got ", biases.size());
  const size_t hidden = n - 1;
  Network net;
  net.weights.assign(weights.begin(), weights.end());
  for (size_t l = 0; l < n; ++l) {
    std::optional<at::Tensor> b = biases.get(l);
    if (b.has_value() && !b->defined()) b.reset();
    net.biases.push_back(std::move(b));
  }
  if (slopes.has_value()) {
    TORCH_CHECK(slopes->size() == hidden, "slopes: expected one negative slope per hidden layer (",
                hidden, "), got ", slopes->size());
    for (size_t l = 0; l < hidden; ++l) {
      TORCH_CHECK(std::isfinite((*slopes)[l]), "slopes[", l, "]: expected a finite slope, got ",
                  (*slopes)[l]);
    }
    net.slopes.assign(slopes->begin(), slopes->end());
  } else {
    net.slopes.assign(hidden, 0.0);
  }
  if (input_skip.has_value()) {
    TORCH_CHECK(input_skip->size() == n, "input_skip: expected one flag per layer, head included (",
                n, "), got ", input_skip->size());
    for (size_t l = 0; l < n; ++l) net.input_skip.push_back(input_skip->get(l));
    TORCH_CHECK(!net.input_skip[0],
                "input_skip[0]: expected false (layer 0 already reads x; a skip needs l >= 1)");
  } else {
    net.input_skip.assign(n, false);
  }
  if (residual.has_value()) {
    TORCH_CHECK(residual->size() == hidden, "residual: expected one flag per hidden layer (",
                hidden, "), got ", residual->size());
    for (size_t l = 0; l < hidden; ++l) net.residual.push_back(residual->get(l));
  } else {
    net.residual.assign(hidden, false);
  }
  if (skip_columns.has_value()) {
    const at::IntArrayRef cols = *skip_columns;
    TORCH_CHECK(cols.size() == 2 * n, "skip_columns: expected two entries (start, stop) per "
                "layer, head included (", 2 * n, "), got ", cols.size());
    for (size_t l = 0; l < n; ++l) {
      const int64_t start = cols[2 * l], stop = cols[2 * l + 1];
      const bool all_of_x = start == -1 && stop == -1;
      if (!net.input_skip[l]) {
        TORCH_CHECK(all_of_x, "skip_columns: layer ", l, " has no input skip; expected -1, -1, "
                    "got ", start, ", ", stop);
      } else {
        TORCH_CHECK(all_of_x || (0 <= start && start < stop), "skip_columns: layer ", l,
                    "'s skip reads x columns [", start, ", ", stop, "); expected 0 <= start < "
                    "stop, or -1, -1 for all of x");
      }
      net.skip_columns.emplace_back(start, stop);
    }
  } else {
    net.skip_columns.assign(n, {-1, -1});
  }
  return net;
}

namespace {

// The first tensor of `named` holding a NaN or inf, or -1. Only run once the fused check failed.
int64_t first_non_finite(const std::vector<std::pair<std::string, at::Tensor>>& named) {
  for (size_t k = 0; k < named.size(); ++k) {
    const at::Tensor& t = named[k].second;
    if (t.numel() > 0 && !at::isfinite(t).all().item<bool>()) return static_cast<int64_t>(k);
  }
  return -1;
}

}  // namespace

void check_all_finite(const std::vector<std::pair<std::string, at::Tensor>>& named) {
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : named) {
    if (t.numel() > 0) tensors.push_back(t);
  }
  if (tensors.empty()) return;
  // One pass over every tensor (a fused multi-tensor kernel on CUDA) and one host sync: the sum
  // of the L1 norms is finite unless some entry is NaN or inf (or the sum overflows, which the
  // per-tensor search below tells apart).
  const std::vector<at::Tensor> norms = at::_foreach_norm(tensors, 1);
  if (at::stack(norms).sum().isfinite().item<bool>()) return;
  const int64_t bad = first_non_finite(named);
  if (bad < 0) return;
  const std::string& name = named[bad].first;
  if (name == "x") TORCH_CHECK(false, "x: expected finite coordinates, found NaN or inf");
  TORCH_CHECK(false, name, ": expected finite values, found NaN or inf");
}

void check_network_structure(const at::Tensor& x, const Network& net) {
  TORCH_CHECK(x.dim() == 2, "x: expected a 2-D tensor [N, D], got ", x.dim(), " dimensions");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "x: expected float32 or float64, got ", x.scalar_type());
  const int64_t in_dim = x.size(1);
  int64_t prev = in_dim;
  for (size_t l = 0; l < net.layers(); ++l) {
    const at::Tensor& w = net.weights[l];
    const std::string wname = "weights[" + std::to_string(l) + "]";
    TORCH_CHECK(w.dim() == 2, wname, ": expected a 2-D tensor [out, in], got ", w.dim(),
                " dimensions");
    TORCH_CHECK(w.scalar_type() == x.scalar_type(), wname, ": expected dtype ", x.scalar_type(),
                " (the dtype of x), got ", w.scalar_type());
    TORCH_CHECK(w.device() == x.device(), wname, ": expected device ", x.device(),
                " (the device of x), got ", w.device());
    const bool skip = net.input_skip[l];
    const auto [start, stop] = net.skip_columns[l];
    if (skip && start >= 0) {
      TORCH_CHECK(stop <= in_dim, "skip_columns: layer ", l, "'s skip reads x columns [", start,
                  ", ", stop, "); expected stop <= x.shape[1] = ", in_dim);
      const int64_t expect = prev + (stop - start);
      TORCH_CHECK(w.size(1) == expect, wname, ": expected ", expect, " input features (the "
                  "previous layer's width + the ", stop - start, " x columns [", start, ", ",
                  stop, ") of an input skip), got shape ", w.sizes());
    } else {
      const int64_t expect = prev + (skip ? in_dim : 0);
      TORCH_CHECK(w.size(1) == expect, wname, ": expected ", expect, " input features (",
                  l == 0 ? "x.shape[1]"
                         : (skip ? "the previous layer's width + x.shape[1], an input skip"
                                 : "the previous layer's width"),
                  "), got shape ", w.sizes());
    }
    TORCH_CHECK(w.size(0) >= 1, wname, ": expected at least one output unit");
    if (net.has_bias(l)) {
      const at::Tensor& b = *net.biases[l];
      const std::string bname = "biases[" + std::to_string(l) + "]";
      TORCH_CHECK(b.dim() == 1, bname, ": expected a 1-D tensor [out], got ", b.dim(),
                  " dimensions");
      TORCH_CHECK(b.scalar_type() == x.scalar_type(), bname, ": expected dtype ",
                  x.scalar_type(), " (the dtype of x), got ", b.scalar_type());
      TORCH_CHECK(b.device() == x.device(), bname, ": expected device ", x.device(),
                  " (the device of x), got ", b.device());
      TORCH_CHECK(b.size(0) == w.size(0), bname, ": expected ", w.size(0), " entries (", wname,
                  ".shape[0]), got ", b.size(0));
    }
    if (l < net.hidden_layers() && net.residual[l]) {
      TORCH_CHECK(w.size(0) == prev, "residual[", l, "]: a residual add needs equal widths; layer ",
                  l, " has ", w.size(0), " outputs and reads ", prev,
                  l == 0 ? " (x.shape[1])" : " (the previous layer's width)");
    }
    prev = w.size(0);
  }
}

void check_network_finite(const at::Tensor& x, const Network& net,
                          const std::vector<std::pair<std::string, at::Tensor>>& also_finite) {
  std::vector<std::pair<std::string, at::Tensor>> named = {{"x", x}};
  for (size_t l = 0; l < net.layers(); ++l) {
    named.emplace_back("weights[" + std::to_string(l) + "]", net.weights[l]);
    if (net.has_bias(l)) named.emplace_back("biases[" + std::to_string(l) + "]", *net.biases[l]);
  }
  named.insert(named.end(), also_finite.begin(), also_finite.end());
  check_all_finite(named);
}

void check_network_inputs(const at::Tensor& x, const Network& net,
                          const std::vector<std::pair<std::string, at::Tensor>>& also_finite) {
  check_network_structure(x, net);
  check_network_finite(x, net, also_finite);
}

}  // namespace specbias
