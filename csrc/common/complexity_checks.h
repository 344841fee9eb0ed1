// Input validation of the local-complexity ops (sampled: local_complexity*, first order:
// first_order_complexity*). The network and, for the affine-sine forms, the coordinates and the
// encoding are checked by check_coord_inputs / check_network_inputs; these add the hull (the
// directions and the radius), the encoded vertices and the radii.
#pragma once

#include <ATen/ATen.h>

#include "network.h"

namespace specbias {

// directions [K, D] (K >= 1, D = coords.shape[1], coords' dtype and device, finite) and a
// finite radius >= 0. Call after check_coord_inputs (coords is then known to be [N, D]).
void check_hull_inputs(const at::Tensor& coords, const at::Tensor& directions, double radius);

// vertices [N, V, E] (V >= 1 encoded vertices per point, float32/float64, finite) and a network
// whose layer 0 takes the E features.
void check_vertex_inputs(const at::Tensor& vertices, const Network& net);

// grid_complexity: patterns [N, words] int64 of a grid of grid_shape (1-3 sizes, product N),
// steps one per axis (each >= 1) and segments as for check_segments.
void check_grid_hull_inputs(const at::Tensor& patterns, at::IntArrayRef grid_shape,
                            at::IntArrayRef steps, at::IntArrayRef segments);

// radii: at least one radius, each finite and >= 0.
void check_radii(at::ArrayRef<double> radii);

}  // namespace specbias
