// Forward-mode pass from coordinates through the encoding and the hidden layers, on the CPU, for
// one tile of points. Values and the D coordinate tangents travel together as one stacked block
// S [(1 + D) * rows, width]: rows 0..rows-1 are the values, rows (1+d)*rows .. are the tangent
// d/dc_d of every point, so each layer is a single GEMM over the whole block.
// Shared by boundary_distance.cpp and coord_gradients.cpp.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

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

// Adds the bias to the value rows of S (the layer's GEMM output), then applies the ReLU to the
// values and its derivative 1[z > 0] to the tangents, in place. With `best` set, it also folds
// every neuron's first-order boundary distance |z| / ||dz/dc|| into the running minimum
// best[r] / argmin[r] (neuron index first_neuron + k); a strict < keeps the lowest index on ties,
// and neurons with zero tangent (distance +inf) never replace anything.
template <typename scalar_t>
void bias_relu_tangents(scalar_t* s, int64_t rows, int64_t dims, int64_t width,
                        const scalar_t* bias, scalar_t* best, int64_t* argmin,
                        int64_t first_neuron) {
  for (int64_t r = 0; r < rows; ++r) {
    scalar_t* z = s + r * width;
    scalar_t row_best = best ? best[r] : scalar_t(0);
    int64_t row_arg = best ? argmin[r] : -1;
    for (int64_t k = 0; k < width; ++k) {
      const scalar_t zk = z[k] + bias[k];
      if (best) {
        scalar_t g2 = 0;
        for (int64_t d = 0; d < dims; ++d) {
          const scalar_t t = s[((1 + d) * rows + r) * width + k];
          g2 += t * t;
        }
        if (g2 > scalar_t(0)) {
          const scalar_t dist = std::abs(zk) / std::sqrt(g2);
          if (dist < row_best) {
            row_best = dist;
            row_arg = first_neuron + k;
          }
        }
      }
      if (zk > scalar_t(0)) {
        z[k] = zk;
      } else {
        z[k] = 0;
        for (int64_t d = 0; d < dims; ++d) s[((1 + d) * rows + r) * width + k] = 0;
      }
    }
    if (best) {
      best[r] = row_best;
      argmin[r] = row_arg;
    }
  }
}

// Runs one tile c [rows, D] through the encoding and every hidden layer; returns the stacked
// block after the last hidden ReLU ([(1+D)*rows, width_{L-1}]). `weights_t` are the hidden
// layers' transposed weights (contiguous [in, out]). best/argmin may be null.
template <typename scalar_t>
at::Tensor forward_tile(const at::Tensor& c, const at::Tensor& matrix, const at::Tensor& offset,
                        const at::Tensor& periodic, const std::vector<at::Tensor>& weights_t,
                        const std::vector<at::Tensor>& biases, scalar_t* best, int64_t* argmin) {
  const int64_t rows = c.size(0);
  const int64_t dims = c.size(1);
  const int64_t features = matrix.size(0);
  at::Tensor s = at::empty({(1 + dims) * rows, features}, c.options());
  encode_with_tangents<scalar_t>(c.data_ptr<scalar_t>(), rows, dims, matrix.data_ptr<scalar_t>(),
                                 offset.data_ptr<scalar_t>(), periodic.data_ptr<bool>(), features,
                                 s.data_ptr<scalar_t>());
  int64_t first_neuron = 0;
  for (size_t l = 0; l < weights_t.size(); ++l) {
    s = at::mm(s, weights_t[l]);
    const int64_t width = s.size(1);
    bias_relu_tangents<scalar_t>(s.data_ptr<scalar_t>(), rows, dims, width,
                                 biases[l].data_ptr<scalar_t>(), best, argmin, first_neuron);
    first_neuron += width;
  }
  return s;
}

}  // namespace coord_forward
}  // namespace specbias
