// Argument checks of the ops that read packed patterns (region ids, Hamming distances, bit
// counts). Shared by the CPU and CUDA kernels so both raise the same messages.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace specbias {

// patterns: int64, 2-D [N, words] (the packed rows of activation_patterns).
void check_patterns(const at::Tensor& patterns, const char* name = "patterns");

// i and j: int64 1-D index tensors of the same length on the device of patterns, in [0, N).
void check_pair_indices(const at::Tensor& patterns, const at::Tensor& i, const at::Tensor& j);

// segments: bit boundaries b0 <= b1 <= ... <= bS with 0 <= b0 and bS <= 64 * words, S >= 1.
void check_segments(at::IntArrayRef segments, int64_t words);

// grid_shape: 1, 2 or 3 non-negative sizes whose product (without int64 overflow) is the number
// of pattern rows.
void check_grid_shape(at::IntArrayRef grid_shape, int64_t rows);

// num_bits: 0 <= num_bits <= 64 * words.
void check_num_bits(int64_t num_bits, int64_t words);

// Output shapes of hamming_neighbors: axis a loses one point (never below 0).
std::vector<std::vector<int64_t>> neighbor_shapes(at::IntArrayRef grid_shape);

}  // namespace specbias
