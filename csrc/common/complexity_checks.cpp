#include "complexity_checks.h"

#include <cmath>

#include "pattern_checks.h"

namespace specbias {

void check_hull_inputs(const at::Tensor& coords, const at::Tensor& directions, double radius) {
  TORCH_CHECK(std::isfinite(radius) && radius >= 0.0,
              "radius: expected a finite radius >= 0, got ", radius);
  const int64_t d = coords.size(1);
  TORCH_CHECK(directions.dim() == 2 && directions.size(1) == d,
              "directions: expected shape [K, D] with D = coords.shape[1] = ", d, ", got ",
              directions.sizes());
  TORCH_CHECK(directions.size(0) >= 1,
              "directions: expected at least one direction (K >= 1), got shape ",
              directions.sizes());
  TORCH_CHECK(directions.scalar_type() == coords.scalar_type(), "directions: expected dtype ",
              coords.scalar_type(), " (the dtype of coords), got ", directions.scalar_type());
  TORCH_CHECK(directions.device() == coords.device(), "directions: expected device ",
              coords.device(), " (the device of coords), got ", directions.device());
  check_all_finite({{"directions", directions}});
}

void check_grid_hull_inputs(const at::Tensor& patterns, at::IntArrayRef grid_shape,
                            at::IntArrayRef steps, at::IntArrayRef segments) {
  check_patterns(patterns);
  check_grid_shape(grid_shape, patterns.size(0));
  TORCH_CHECK(steps.size() == grid_shape.size(), "steps: expected one step per grid axis (",
              grid_shape.size(), "), got ", steps);
  for (int64_t s : steps) {
    TORCH_CHECK(s >= 1, "steps: expected whole numbers of grid points >= 1, got ", steps);
  }
  check_segments(segments, patterns.size(1));
}

void check_vertex_inputs(const at::Tensor& vertices, const Network& net) {
  TORCH_CHECK(vertices.dim() == 3,
              "vertices: expected a 3-D tensor [N, V, E] (V encoded vertices per point), got ",
              vertices.dim(), " dimensions");
  TORCH_CHECK(vertices.scalar_type() == at::kFloat || vertices.scalar_type() == at::kDouble,
              "vertices: expected float32 or float64, got ", vertices.scalar_type());
  TORCH_CHECK(vertices.size(1) >= 1,
              "vertices: expected at least one vertex per point (V >= 1), got shape ",
              vertices.sizes());
  const int64_t e = vertices.size(2);
  const at::Tensor& w0 = net.weights[0];
  TORCH_CHECK(w0.dim() == 2 && w0.size(1) == e, "weights[0]: expected shape [out, E] with E = ",
              e, " (vertices.shape[2]), got ", w0.sizes());
  // dtype, device, shapes and skips as for every network op, on an empty input of the right
  // width; one fused finiteness check covers the vertices too.
  check_network_inputs(at::empty({0, e}, vertices.options()), net, {{"vertices", vertices}});
}

void check_radii(at::ArrayRef<double> radii) {
  TORCH_CHECK(!radii.empty(), "radii: expected at least one radius");
  for (size_t i = 0; i < radii.size(); ++i) {
    TORCH_CHECK(std::isfinite(radii[i]) && radii[i] >= 0.0, "radii[", i,
                "]: expected a finite radius >= 0, got ", radii[i]);
  }
}

}  // namespace specbias
