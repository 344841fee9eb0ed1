// Input validation shared by every op that takes a ReLU MLP as (weights, biases) lists.
// Errors name the argument and what was expected, so a user calling torch.ops.specbias.* directly
// gets the same message as through the Python wrappers.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace specbias {

// Checks x [N, D] and the layer lists (nn.Linear layout, at least one hidden layer plus the head)
// for dtype, device and shape agreement, and that x holds no NaN or inf. Only the geometry ops
// with the old (Tensor[] biases) schema still use it; every network op takes a Network and
// check_network_inputs (network.h).
void check_mlp_inputs(const at::Tensor& x, at::TensorList weights, at::TensorList biases);

// Widths of the hidden layers l = 0..L-1 (the head is not part of the pattern).
std::vector<int64_t> hidden_widths(at::TensorList weights);

// Total number of hidden neurons H and the packed word count ceil(H / 64).
int64_t total_hidden(at::TensorList weights);
inline int64_t words_for_bits(int64_t bits) { return (bits + 63) / 64; }

// Checks a packed pattern tensor: int64, 2-D.
void check_patterns(const at::Tensor& patterns, const char* name = "patterns");

// Checks an index tensor: int64, 1-D, on `device`, every value in [0, n).
void check_indices(const at::Tensor& idx, const char* name, int64_t n, const at::Device& device);

}  // namespace specbias
