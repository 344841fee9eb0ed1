#include "pattern_checks.h"

#include "index_checks.h"

namespace specbias {

void check_patterns(const at::Tensor& patterns, const char* name) {
  TORCH_CHECK(patterns.dim() == 2, name, ": expected a 2-D tensor [N, words], got ",
              patterns.dim(), " dimensions");
  TORCH_CHECK(patterns.scalar_type() == at::kLong, name,
              ": expected int64 packed patterns (from activation_patterns), got ",
              patterns.scalar_type());
}

void check_pair_indices(const at::Tensor& patterns, const at::Tensor& i, const at::Tensor& j) {
  check_indices(i, "i", patterns.size(0), patterns.device());
  check_indices(j, "j", patterns.size(0), patterns.device());
  TORCH_CHECK(i.size(0) == j.size(0), "j: expected as many indices as i (", i.size(0),
              "), got ", j.size(0));
}

void check_segments(at::IntArrayRef segments, int64_t words) {
  TORCH_CHECK(segments.size() >= 2,
              "segments: expected at least 2 bit boundaries [b0, b1, ...], got ", segments.size());
  TORCH_CHECK(segments[0] >= 0, "segments: expected boundaries >= 0, got ", segments);
  for (size_t s = 1; s < segments.size(); ++s) {
    TORCH_CHECK(segments[s] >= segments[s - 1],
                "segments: expected non-decreasing bit boundaries, got ", segments);
  }
  TORCH_CHECK(segments.back() <= 64 * words, "segments: expected boundaries <= ", 64 * words,
              " (64 * patterns.shape[1]), got ", segments);
}

void check_grid_shape(at::IntArrayRef grid_shape, int64_t rows) {
  TORCH_CHECK(grid_shape.size() >= 1 && grid_shape.size() <= 3,
              "grid_shape: expected 1, 2 or 3 sizes (a 1D, 2D or 3D grid), got ", grid_shape);
  bool empty = false;
  for (int64_t s : grid_shape) {
    TORCH_CHECK(s >= 0, "grid_shape: expected non-negative sizes, got ", grid_shape);
    empty = empty || s == 0;
  }
  int64_t points = empty ? 0 : 1;
  for (int64_t s : grid_shape) {
    TORCH_CHECK(empty || !__builtin_mul_overflow(points, s, &points), "grid_shape: the product "
                "of the sizes ", grid_shape, " overflows int64 (expected the number of pattern "
                "rows, ", rows, ")");
  }
  TORCH_CHECK(points == rows, "grid_shape: expected sizes whose product is the number of pattern "
              "rows (", rows, "), got ", grid_shape, " (", points, " points)");
}

void check_num_bits(int64_t num_bits, int64_t words) {
  TORCH_CHECK(num_bits >= 0 && num_bits <= 64 * words, "num_bits: expected 0 <= num_bits <= ",
              64 * words, " (64 * patterns.shape[1]), got ", num_bits);
}

std::vector<std::vector<int64_t>> neighbor_shapes(at::IntArrayRef grid_shape) {
  std::vector<std::vector<int64_t>> shapes;
  for (size_t axis = 0; axis < grid_shape.size(); ++axis) {
    std::vector<int64_t> shape(grid_shape.begin(), grid_shape.end());
    shape[axis] = std::max<int64_t>(shape[axis] - 1, 0);
    shapes.push_back(shape);
  }
  return shapes;
}

}  // namespace specbias
