#include "mlp_checks.h"

#include <sstream>

namespace specbias {

void check_mlp_inputs(const at::Tensor& x, at::TensorList weights, at::TensorList biases) {
  TORCH_CHECK(x.dim() == 2, "x: expected a 2-D tensor [N, D], got ", x.dim(), " dimensions");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "x: expected float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(weights.size() >= 2,
              "weights: expected at least 2 layers (one hidden layer and the linear head), got ",
              weights.size());
  TORCH_CHECK(weights.size() == biases.size(), "biases: expected one bias per weight (",
              weights.size(), "), got ", biases.size());
  int64_t in_dim = x.size(1);
  for (size_t l = 0; l < weights.size(); ++l) {
    const at::Tensor& w = weights[l];
    const at::Tensor& b = biases[l];
    TORCH_CHECK(w.dim() == 2, "weights[", l, "]: expected a 2-D tensor [out, in], got ", w.dim(),
                " dimensions");
    TORCH_CHECK(b.dim() == 1, "biases[", l, "]: expected a 1-D tensor [out], got ", b.dim(),
                " dimensions");
    TORCH_CHECK(w.scalar_type() == x.scalar_type(), "weights[", l, "]: expected dtype ",
                x.scalar_type(), " (the dtype of x), got ", w.scalar_type());
    TORCH_CHECK(b.scalar_type() == x.scalar_type(), "biases[", l, "]: expected dtype ",
                x.scalar_type(), " (the dtype of x), got ", b.scalar_type());
    TORCH_CHECK(w.device() == x.device(), "weights[", l, "]: expected device ", x.device(),
                " (the device of x), got ", w.device());
    TORCH_CHECK(b.device() == x.device(), "biases[", l, "]: expected device ", x.device(),
                " (the device of x), got ", b.device());
    TORCH_CHECK(w.size(1) == in_dim, "weights[", l, "]: expected ", in_dim,
                " input features (", l == 0 ? "x.shape[1]" : "the previous layer's width",
                "), got shape ", w.sizes());
    TORCH_CHECK(b.size(0) == w.size(0), "biases[", l, "]: expected ", w.size(0),
                " entries (weights[", l, "].shape[0]), got ", b.size(0));
    TORCH_CHECK(w.size(0) >= 1, "weights[", l, "]: expected at least one output unit");
    in_dim = w.size(0);
  }
  if (x.numel() > 0) {
    TORCH_CHECK(at::isfinite(x).all().item<bool>(),
                "x: expected finite coordinates, found NaN or inf");
  }
}

std::vector<int64_t> hidden_widths(at::TensorList weights) {
  std::vector<int64_t> widths;
  for (size_t l = 0; l + 1 < weights.size(); ++l) widths.push_back(weights[l].size(0));
  return widths;
}

int64_t total_hidden(at::TensorList weights) {
  int64_t h = 0;
  for (int64_t w : hidden_widths(weights)) h += w;
  return h;
}

void check_patterns(const at::Tensor& patterns, const char* name) {
  TORCH_CHECK(patterns.dim() == 2, name, ": expected a 2-D tensor [N, words], got ",
              patterns.dim(), " dimensions");
  TORCH_CHECK(patterns.scalar_type() == at::kLong, name,
              ": expected int64 packed patterns (from activation_patterns), got ",
              patterns.scalar_type());
}

void check_indices(const at::Tensor& idx, const char* name, int64_t n, const at::Device& device) {
  TORCH_CHECK(idx.dim() == 1, name, ": expected a 1-D index tensor, got ", idx.dim(),
              " dimensions");
  TORCH_CHECK(idx.scalar_type() == at::kLong, name, ": expected int64 indices, got ",
              idx.scalar_type());
  TORCH_CHECK(idx.device() == device, name, ": expected device ", device, ", got ", idx.device());
  if (idx.numel() > 0) {
    auto mn = idx.min().item<int64_t>();
    auto mx = idx.max().item<int64_t>();
    TORCH_CHECK(mn >= 0 && mx < n, name, ": expected indices in [0, ", n, "), got values in [", mn,
                ", ", mx, "]");
  }
}

}  // namespace specbias
