// The network description every op takes, as the schemas pass it:
//   Tensor[] weights, Tensor?[] biases, *, float[]? slopes, bool[]? input_skip, bool[]? residual,
//   int[]? skip_columns
// Hidden layers l = 0..L-1 and the linear head l = L (L = weights.size() - 1):
//   in_l  = a_{l-1}, or [a_{l-1}, x_{S_l}] when input_skip[l] (canonical column order;
//           a_{-1} = x; x_{S_l} = x[:, start:stop] with skip_columns[2l, 2l+1] = start, stop, or
//           all of x for -1, -1)
//   z_l   = W_l in_l + b_l            (b_l = 0 when biases[l] is None)
//   a_l   = act_l(z_l) (+ a_{l-1} when residual[l]; equal widths)
//   act_l(z) = z where z > 0, slopes[l] * z elsewhere (0: ReLU)
// The pattern bit of a hidden neuron is 1[z > 0]. Backward (u_l = dloss/da_l):
//   delta_L = grad_out;  u_l = (W_{l+1}^a)^T delta_{l+1} + residual[l+1] * u_{l+1}
//   delta_l = act_l'(z_l) * u_l with act' = 1 where z > 0, slopes[l] elsewhere
// where W^a are the columns that read a_l. The per-example gradient of layer l is
// delta_l in_l^T (weights) and delta_l (bias, where present).
// A missing list means the plain value for every layer (ReLU, no skip, no residual).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace specbias {

struct Network {
  std::vector<at::Tensor> weights;                 // [out_l, in_l], l = 0..L
  std::vector<std::optional<at::Tensor>> biases;   // [out_l] or nullopt
  std::vector<double> slopes;                      // L entries, 0 = ReLU
  std::vector<bool> input_skip;                    // L + 1 entries, input_skip[0] == false
  std::vector<bool> residual;                      // L entries
  // L + 1 entries: the columns [start, stop) of x a skip reads; {-1, -1} for all of x (and for
  // every layer without a skip).
  std::vector<std::pair<int64_t, int64_t>> skip_columns;

  size_t layers() const { return weights.size(); }          // L + 1
  size_t hidden_layers() const { return weights.size() - 1; }  // L
  bool has_bias(size_t l) const { return biases[l].has_value(); }
  // A bias-carrying ReLU MLP with no skip and no residual: the ops' original fast path.
  bool plain() const;
  // Width of a_{l-1}, the part of in_l that is not the skipped input (in_l minus x's columns).
  int64_t prev_width(size_t l) const;
  // First column of x that layer l's skip reads (0 when it reads all of x).
  int64_t skip_start(size_t l) const { return std::max<int64_t>(skip_columns[l].first, 0); }
  int64_t total_hidden() const;
};

// Builds the description from the schema arguments (lengths are checked here, with the argument
// named in the error).
// The C++ types of the schema's network arguments, as kernels take them.
using BiasList = c10::List<std::optional<at::Tensor>>;  // Tensor?[] biases
using SlopeList = std::optional<at::ArrayRef<double>>;  // float[]? slopes
using FlagList = std::optional<c10::List<bool>>;        // bool[]? input_skip / residual
using ColumnList = at::OptionalIntArrayRef;             // int[]? skip_columns

Network make_network(at::TensorList weights, const BiasList& biases, SlopeList slopes,
                     const FlagList& input_skip, const FlagList& residual,
                     ColumnList skip_columns = std::nullopt);

// Checks x [N, D] and the network (dtype, device and shape agreement, skip/residual widths, skip
// column ranges inside x) and
// that x, every parameter and the tensors of `also_finite` (e.g. {"grad_out", grad_out}, checked
// for shape by the caller) are finite; errors name the argument (weights[l], biases[l], ...).
// The finiteness check is one fused reduction and one host sync per call.
void check_network_inputs(const at::Tensor& x, const Network& net,
                          const std::vector<std::pair<std::string, at::Tensor>>& also_finite = {});

// The two halves of check_network_inputs, for ops that check more arguments in between (so that
// every shape error comes before the one finiteness sync).
void check_network_structure(const at::Tensor& x, const Network& net);
void check_network_finite(const at::Tensor& x, const Network& net,
                          const std::vector<std::pair<std::string, at::Tensor>>& also_finite = {});

// Refuses NaN or inf in any of the named tensors (one fused reduction, one host sync; only on
// failure are the tensors searched one by one to name the offender).
void check_all_finite(const std::vector<std::pair<std::string, at::Tensor>>& named);

}  // namespace specbias
