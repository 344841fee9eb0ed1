// Forward-mode pass through a described network (network.h) on the CPU, for one tile of points.
// Values and the D coordinate tangents travel together as one stacked block
// S [(1 + D) * rows, width]: rows 0..rows-1 are the values, rows (1+d)*rows .. are the tangent
// d/dc_d of every point, so each layer is a single GEMM over the whole block (two with an input
// skip). The block starts either from the affine-sine encoding of the coordinates
// (encode_with_tangents) or from given encoded points and their Jacobian (stack_encoded).
// Shared by boundary_distance*.cpp and coord_gradients*.cpp.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../common/layer_plan.h"
#include "activation.h"
#include "tiling.h"

namespace specbias {
namespace coord_forward {

// S = [encode(c); d encode / d c_0; ...] for a tile of coordinates c [rows, D].
// Periodic features expand sin(p + offset) = sin(p) cos(offset) + cos(p) sin(offset) with the
// phase p = c . m, so a cos row (offset pi/2) is evaluated as cos(p) like the encodings' own
// forward does, without rounding p + pi/2 first. (At high PE levels the float32 rounding of p
// itself, eps * |p|, still dominates: measured 1.8e-1 relative gradient error at L = 16 either way.)
template <typename scalar_t>
void encode_with_tangents(const scalar_t* coords, int64_t rows, int64_t dims,
                          const scalar_t* matrix, const scalar_t* offset, const bool* periodic,
                          int64_t features, scalar_t* s) {
  std::vector<scalar_t> sin_off(features), cos_off(features);
  for (int64_t e = 0; e < features; ++e) {
    sin_off[e] = std::sin(offset[e]);
    cos_off[e] = std::cos(offset[e]);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const scalar_t* c = coords + r * dims;
    for (int64_t e = 0; e < features; ++e) {
      const scalar_t* m = matrix + e * dims;
      scalar_t p = 0;
      for (int64_t d = 0; d < dims; ++d) p += c[d] * m[d];
      scalar_t value = p + offset[e];
      scalar_t slope = 1;
      if (periodic[e]) {
        const scalar_t sp = std::sin(p), cp = std::cos(p);
        value = sp * cos_off[e] + cp * sin_off[e];
        slope = cp * cos_off[e] - sp * sin_off[e];
      }
      s[r * features + e] = value;
      for (int64_t d = 0; d < dims; ++d) s[((1 + d) * rows + r) * features + e] = slope * m[d];
    }
  }
}

// The stacked block of a tile of affine-sine encoded coordinates c [rows, D].
template <typename scalar_t>
at::Tensor stack_affine_sine(const at::Tensor& c, const at::Tensor& matrix,
                             const at::Tensor& offset, const at::Tensor& periodic) {
  const int64_t rows = c.size(0);
  const int64_t dims = c.size(1);
  const int64_t features = matrix.size(0);
  at::Tensor s = at::empty({(1 + dims) * rows, features}, c.options());
  encode_with_tangents<scalar_t>(c.data_ptr<scalar_t>(), rows, dims, matrix.data_ptr<scalar_t>(),
                                 offset.data_ptr<scalar_t>(), periodic.data_ptr<bool>(), features,
                                 s.data_ptr<scalar_t>());
  return s;
}

// The stacked block of a tile of encoded points x [rows, E] with x_jacobian [rows, E, D].
inline at::Tensor stack_encoded(const at::Tensor& x, const at::Tensor& x_jacobian) {
  const int64_t rows = x.size(0);
  const int64_t dims = x_jacobian.size(2);
  return at::cat({x, x_jacobian.permute({2, 0, 1}).reshape({dims * rows, x.size(1)})}, 0);
}

// Counts of first-order distances within radii, per row of a tile: counts[r * row_stride + q]
// gains 1 for each distance <= radii[q] (the caller's layer and tile offsets are in `counts`).
// r_max is the largest radius.
template <typename scalar_t>
struct WithinRadii {
  const scalar_t* radii;
  int64_t num_radii;
  scalar_t r_max;
  int32_t* counts;
  int64_t row_stride;

  void count(int64_t r, scalar_t dist) const {
    int32_t* c = counts + r * row_stride;
    for (int64_t q = 0; q < num_radii; ++q) c[q] += dist <= radii[q];
  }
};

// Neurons per step of the distance fold: the prefilter's bound tightens after each step.
constexpr int64_t kFoldStep = 64;

// z^2 > bound * g2 with bound = t^2 (1 + 16 eps) proves the computed |z| / sqrt(g2) exceeds t,
// the rounding of both sides included, when bound * g2 is a normal number and z^2 is finite.
// 0 (no bound: test every neuron) when t^2 leaves the normal range (t = +inf at the first
// neuron of a point, or a radius too small or large).
template <typename scalar_t>
scalar_t prefilter_bound(scalar_t t) {
  const scalar_t bound = t * t * (scalar_t(1) + 16 * std::numeric_limits<scalar_t>::epsilon());
  return std::isnormal(bound) ? bound : scalar_t(0);
}

// On the GEMM output z of one hidden layer (value rows, then tangent rows; width columns), in
// place: adds the bias (if any) to the values; with `best` set, folds every neuron's first-order
// boundary distance |z| / ||dz/dc|| into the running minimum best[r] / argmin[r] (neuron index
// first_neuron + k; a strict < keeps the lowest index on ties, and a neuron with zero tangent,
// distance +inf, never replaces anything); applies the activation to the values and its
// derivative (1 where z > 0, else the slope) to the tangents; with `prev` (the stacked block of
// a_{l-1}, same layout) adds it to values and tangents (residual layer). With `within` (and
// `best`), the same distances are counted against radii: the first-order local complexity.
// Each step is a plain loop over the neurons (vectorised by GCC at its default flags); only the
// neurons that a bound cannot exclude (closer than the running minimum or the largest radius)
// take the square root and division, in neuron order.
template <typename scalar_t>
void activate_with_tangents(scalar_t* s, int64_t rows, int64_t dims, int64_t width,
                            const scalar_t* bias, scalar_t slope, const scalar_t* prev,
                            scalar_t* best, int64_t* argmin, int64_t first_neuron,
                            const WithinRadii<scalar_t>* within = nullptr) {
  using Bits = std::conditional_t<sizeof(scalar_t) == 4, uint32_t, uint64_t>;
  const int64_t tangent_stride = rows * width;
  const scalar_t smallest = std::numeric_limits<scalar_t>::min();
  const scalar_t largest = std::numeric_limits<scalar_t>::max();
  std::vector<scalar_t> g2(best ? width : 0);
  std::vector<uint8_t> test(best ? width : 0);
  std::vector<Bits> keep(width);
  for (int64_t r = 0; r < rows; ++r) {
    scalar_t* z = s + r * width;
    scalar_t* t0 = s + tangent_stride + r * width;  // tangent d of neuron k: t0[d * stride + k]
    if (bias) {
      for (int64_t k = 0; k < width; ++k) z[k] += bias[k];
    }
    if (best) {
      for (int64_t k = 0; k < width; ++k) g2[k] = 0;
      for (int64_t d = 0; d < dims; ++d) {
        const scalar_t* t = t0 + d * tangent_stride;
        for (int64_t k = 0; k < width; ++k) g2[k] += t[k] * t[k];
      }
      scalar_t row_best = best[r];
      int64_t row_arg = argmin[r];
      for (int64_t k0 = 0; k0 < width; k0 += kFoldStep) {
        const int64_t k1 = std::min(width, k0 + kFoldStep);
        const scalar_t reach = within ? std::max(row_best, within->r_max) : row_best;
        const scalar_t bound = prefilter_bound(reach);
        for (int64_t k = k0; k < k1; ++k) {
          const scalar_t zz = z[k] * z[k];
          const scalar_t limit = bound * g2[k];
          test[k] = !(limit >= smallest && zz > limit && zz <= largest);
        }
        for (int64_t k = k0; k < k1; ++k) {
          if (!test[k] || !(g2[k] > scalar_t(0))) continue;
          const scalar_t dist = std::abs(z[k]) / std::sqrt(g2[k]);
          if (dist < row_best) {
            row_best = dist;
            row_arg = first_neuron + k;
          }
          if (within) within->count(r, dist);
        }
      }
      best[r] = row_best;
      argmin[r] = row_arg;
    }
    // Activation: a bitwise select, branch-free (see cpu/activation.h for why).
    for (int64_t k = 0; k < width; ++k) keep[k] = z[k] > scalar_t(0) ? ~Bits(0) : Bits(0);
    const Bits scaled = slope == scalar_t(0) ? Bits(0) : ~Bits(0);  // ReLU: 0, not slope * z
    for (int64_t k = 0; k < width; ++k) {
      z[k] = cpu::bits_as<scalar_t>((cpu::bits_as<Bits>(z[k]) & keep[k]) |
                                    (cpu::bits_as<Bits>(slope * z[k]) & ~keep[k] & scaled));
    }
    for (int64_t d = 0; d < dims; ++d) {
      scalar_t* t = t0 + d * tangent_stride;
      for (int64_t k = 0; k < width; ++k) {
        t[k] = cpu::bits_as<scalar_t>((cpu::bits_as<Bits>(t[k]) & keep[k]) |
                                      (cpu::bits_as<Bits>(slope * t[k]) & ~keep[k] & scaled));
      }
    }
    if (prev) {
      const scalar_t* p = prev + r * width;
      for (int64_t k = 0; k < width; ++k) z[k] += p[k];
      for (int64_t d = 0; d < dims; ++d) {
        scalar_t* t = t0 + d * tangent_stride;
        const scalar_t* pt = prev + tangent_stride + d * tangent_stride + r * width;
        for (int64_t k = 0; k < width; ++k) t[k] += pt[k];
      }
    }
  }
}

// Runs the stacked block x0 [(1+D)*rows, E] of a tile through every hidden layer (layers[0..L-1]
// of layer_plan); returns the stacked block of a_{L-1}. best/argmin may be null.
template <typename scalar_t>
at::Tensor hidden_pass(const at::Tensor& x0, int64_t rows, int64_t dims,
                       const std::vector<LayerPlan>& layers, scalar_t* best, int64_t* argmin) {
  at::Tensor s = x0;
  int64_t first_neuron = 0;
  for (size_t l = 0; l + 1 < layers.size(); ++l) {
    const LayerPlan& layer = layers[l];
    at::Tensor z = at::mm(s, layer.w_prev_t);
    if (layer.has_skip()) z.addmm_(layer.skip_input(x0), layer.w_skip_t);
    const int64_t width = z.size(1);
    activate_with_tangents<scalar_t>(
        z.data_ptr<scalar_t>(), rows, dims, width,
        layer.has_bias() ? layer.bias.data_ptr<scalar_t>() : nullptr,
        static_cast<scalar_t>(layer.slope), layer.residual ? s.data_ptr<scalar_t>() : nullptr,
        best, argmin, first_neuron);
    s = z;
    first_neuron += width;
  }
  return s;
}

// d f / d c of a tile, [D * rows, out] (tangent d of point r in row d * rows + r): the head on the
// tangent rows only (its bias does not reach the gradient), plus its skip columns on x's tangents.
inline at::Tensor head_tangents(const at::Tensor& s, const at::Tensor& x0, int64_t rows,
                                int64_t dims, const LayerPlan& head) {
  at::Tensor g = at::mm(s.narrow(0, rows, dims * rows), head.w_prev_t);
  if (head.has_skip()) g.addmm_(head.skip_input(x0.narrow(0, rows, dims * rows)), head.w_skip_t);
  return g;
}

using cpu::kTileRows;

// The op drivers: tiles of kTileRows points run in parallel; stack(r0, rows) gives the stacked
// block of points r0..r0+rows-1 (stack_affine_sine or stack_encoded). Call inside a dispatch.

// (distance [n], argmin [n]) of boundary_distance*.
template <typename scalar_t, typename StackFn>
std::tuple<at::Tensor, at::Tensor> boundary_distance_tiles(int64_t n, int64_t dims,
                                                           const at::TensorOptions& options,
                                                           const std::vector<LayerPlan>& layers,
                                                           const StackFn& stack) {
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), options);
  at::Tensor argmin = at::full({n}, -1, options.dtype(at::kLong));
  scalar_t* dist_ptr = dist.data_ptr<scalar_t>();
  int64_t* arg_ptr = argmin.data_ptr<int64_t>();
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
    const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kTileRows;
      const int64_t rows = std::min(kTileRows, n - r0);
      hidden_pass<scalar_t>(stack(r0, rows), rows, dims, layers, dist_ptr + r0, arg_ptr + r0);
    }
  });
  return {dist, argmin};
}

// [n, out, D] of coord_gradients*.
template <typename scalar_t, typename StackFn>
at::Tensor coord_gradients_tiles(int64_t n, int64_t dims, const at::TensorOptions& options,
                                 const std::vector<LayerPlan>& layers, const StackFn& stack) {
  const LayerPlan& head = layers.back();
  const int64_t out_dim = head.width();
  at::Tensor out = at::empty({n, out_dim, dims}, options);
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
    const at::NoGradGuard no_grad;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kTileRows;
      const int64_t rows = std::min(kTileRows, n - r0);
      const at::Tensor x0 = stack(r0, rows);
      const at::Tensor s = hidden_pass<scalar_t>(x0, rows, dims, layers, nullptr, nullptr);
      const at::Tensor grads = head_tangents(s, x0, rows, dims, head);  // [D*rows, out]
      out.narrow(0, r0, rows).copy_(grads.view({dims, rows, out_dim}).permute({1, 2, 0}));
    }
  });
  return out;
}

}  // namespace coord_forward
}  // namespace specbias
