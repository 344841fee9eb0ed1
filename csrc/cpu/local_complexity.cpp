// Sampled local complexity on the CPU: for every point, the number of hidden neurons per layer
// whose pattern bit 1[z > 0] is not the same at all vertices of its hull (common/hull.h).
// Tiles of points run in parallel; a tile's vertices (encoded in the kernel from coordinates, or
// given already encoded) go through the network as one block of GEMMs, and after each hidden
// layer one sweep packs 64 neurons of a vertex at a time, ORs their XOR against the first
// vertex's word into an accumulator and popcounts it per point. No pattern outlives its word.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../common/bit_utils.h"
#include "../common/complexity_checks.h"
#include "../common/coord_checks.h"
#include "../common/hull.h"
#include "../common/layer_plan.h"
#include "activation.h"
#include "coord_forward.h"
#include "tiling.h"

namespace specbias {
namespace {

// A tile holds whole points: about cpu::kTileRows vertex rows (points * V), at least one point.
using cpu::kTileRows;

// On the pre-activations z [points * V, width] of one hidden layer (point p's vertices in rows
// p*V .. p*V+V-1): writes the number of neurons whose bit differs between some vertex and
// vertex 0 to counts[p * count_stride], then applies the activation in place. `first` and
// `acc` hold ceil(width / 64) words.
template <typename scalar_t, bool kLeaky>
void count_and_activate(scalar_t* z, int64_t points, int64_t vertices, int64_t width,
                        scalar_t slope, int32_t* counts, int64_t count_stride, uint64_t* first,
                        uint64_t* acc) {
  const int64_t words = words_for_bits(width);
  for (int64_t p = 0; p < points; ++p) {
    for (int64_t v = 0; v < vertices; ++v) {
      scalar_t* row = z + (p * vertices + v) * width;
      for (int64_t w = 0; w < words; ++w) {
        const int64_t k0 = w * 64;
        const int64_t take = std::min<int64_t>(64, width - k0);
        uint64_t bits = 0;  // branch-free: the sign of z is close to a coin flip
        for (int64_t t = 0; t < take; ++t) bits |= uint64_t(row[k0 + t] > scalar_t(0)) << t;
        if (v == 0) {
          first[w] = bits;
          acc[w] = 0;
        } else {
          acc[w] |= bits ^ first[w];
        }
      }
      cpu::activate_in_place<scalar_t, kLeaky>(row, width, slope);
    }
    int64_t count = 0;
    for (int64_t w = 0; w < words; ++w) count += popcount64(acc[w]);
    counts[p * count_stride] = static_cast<int32_t>(count);
  }
}

// Counts [n, L] int32. input(p0, points, buffer) returns the encoded vertices of points
// p0..p0+points-1 as [points * V, E] (in `buffer`, [kTileRows * (1 + D) * E] scratch
// of the calling task, or a view of the caller's tensor).
template <typename scalar_t, typename InputFn>
at::Tensor count_tiles(int64_t n, int64_t vertices, const Network& net, int64_t scratch_per_row,
                       const at::TensorOptions& options, const InputFn& input) {
  const int64_t hidden = static_cast<int64_t>(net.hidden_layers());
  at::Tensor out = at::zeros({n, hidden}, options.dtype(at::kInt));
  if (n == 0) return out;
  const std::vector<LayerPlan> layers = layer_plan(net, /*contiguous=*/true);
  const int64_t max_width = widest_hidden(layers);
  const int64_t tile_points = std::max<int64_t>(1, kTileRows / vertices);
  const int64_t tile_rows = tile_points * vertices;
  const int64_t tiles = (n + tile_points - 1) / tile_points;
  int32_t* out_ptr = out.data_ptr<int32_t>();
  at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
    const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
    at::Tensor scratch = at::empty({tile_rows * scratch_per_row}, options);
    at::Tensor buffers[2] = {at::empty({tile_rows * max_width}, options),
                             at::empty({tile_rows * max_width}, options)};
    std::vector<uint64_t> first(words_for_bits(max_width)), acc(words_for_bits(max_width));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t p0 = t * tile_points;
      const int64_t points = std::min(tile_points, n - p0);
      const int64_t rows = points * vertices;
      const at::Tensor x = input(p0, points, scratch);
      at::Tensor a = x;
      for (int64_t l = 0; l < hidden; ++l) {
        const LayerPlan& layer = layers[l];
        const int64_t width = layer.width();
        at::Tensor z = buffers[l % 2].narrow(0, 0, rows * width).view({rows, width});
        if (layer.has_bias()) {
          at::addmm_out(z, layer.bias, a, layer.w_prev_t);
        } else {
          at::mm_out(z, a, layer.w_prev_t);
        }
        if (layer.has_skip()) z.addmm_(layer.skip_input(x), layer.w_skip_t);
        int32_t* counts = out_ptr + p0 * hidden + l;
        if (layer.slope == 0.0) {
          count_and_activate<scalar_t, false>(z.data_ptr<scalar_t>(), points, vertices, width,
                                              scalar_t(0), counts, hidden, first.data(),
                                              acc.data());
        } else {
          count_and_activate<scalar_t, true>(z.data_ptr<scalar_t>(), points, vertices, width,
                                             static_cast<scalar_t>(layer.slope), counts, hidden,
                                             first.data(), acc.data());
        }
        if (layer.residual) z.add_(a);
        a = z;
      }
    }
  });
  return out;
}

at::Tensor local_complexity_cpu(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                const at::Tensor& directions, double radius, bool include_centre,
                                at::TensorList weights, const BiasList& biases, SlopeList slopes,
                                const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  check_hull_inputs(coords_in, directions, radius);
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  const at::Tensor hull = hull_offsets(directions, radius, include_centre);  // [V, D]
  const int64_t vertices = hull.size(0);
  const int64_t dims = coords.size(1);
  const int64_t features = matrix.size(0);
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "local_complexity_cpu", [&] {
    const scalar_t* c = coords.data_ptr<scalar_t>();
    const scalar_t* off = hull.data_ptr<scalar_t>();
    // Scratch per vertex row: its D coordinates, then the encoding's value row and D tangent
    // rows (coord_forward::encode_with_tangents writes both; only the values are read).
    out = count_tiles<scalar_t>(
        coords.size(0), vertices, net, dims + (1 + dims) * features, coords.options(),
        [&](int64_t p0, int64_t points, at::Tensor& scratch) {
          const int64_t rows = points * vertices;
          scalar_t* vc = scratch.data_ptr<scalar_t>();
          for (int64_t p = 0; p < points; ++p) {
            const scalar_t* cp = c + (p0 + p) * dims;
            for (int64_t v = 0; v < vertices; ++v) {
              for (int64_t d = 0; d < dims; ++d) {
                vc[(p * vertices + v) * dims + d] = cp[d] + off[v * dims + d];
              }
            }
          }
          scalar_t* s = vc + rows * dims;
          coord_forward::encode_with_tangents<scalar_t>(
              vc, rows, dims, matrix.data_ptr<scalar_t>(), offset.data_ptr<scalar_t>(),
              periodic.data_ptr<bool>(), features, s);
          return scratch.narrow(0, rows * dims, rows * features).view({rows, features});
        });
  });
  return out;
}

at::Tensor local_complexity_encoded_cpu(const at::Tensor& vertices_in, at::TensorList weights,
                                        const BiasList& biases, SlopeList slopes,
                                        const FlagList& input_skip, const FlagList& residual,
    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_vertex_inputs(vertices_in, net);
  const int64_t n = vertices_in.size(0);
  const int64_t vertices = vertices_in.size(1);
  const int64_t features = vertices_in.size(2);
  const at::Tensor flat = vertices_in.contiguous().view({n * vertices, features});
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(flat.scalar_type(), "local_complexity_encoded_cpu", [&] {
    out = count_tiles<scalar_t>(n, vertices, net, 0, flat.options(),
                                [&](int64_t p0, int64_t points, at::Tensor&) {
                                  return flat.narrow(0, p0 * vertices, points * vertices);
                                });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) {
  m.impl("local_complexity", &local_complexity_cpu);
  m.impl("local_complexity_encoded", &local_complexity_encoded_cpu);
}

}  // namespace specbias
