// The specbias ops for C++ programs: one function per op, calling torch.ops.specbias.<op> through
// the dispatcher (CPU or CUDA kernel by the inputs' device), with the schema's defaults.
//
//   find_package(specbias REQUIRED)          # also finds Torch
//   target_link_libraries(app PRIVATE specbias::ops)
//   #include <specbias/ops.h>
//   auto [ids, counts] = specbias::ops::region_ids(
//       specbias::ops::activation_patterns(x, weights, specbias::all_biases(biases)));
//
// Every function resolves its operator once (findSchemaOrThrow + typed<>) through
// specbias::find_op, which lives in libspecbias_ops: calling any function here references the
// library, so the linker keeps it (and its registrations) without --no-as-needed. The functions
// live in specbias::ops: the library's own kernels use names in specbias, and an inline function
// of the same mangled name in a program would interpose on them.
//
// A network is `weights` (nn.Linear layout [out, in]) and `biases` (one per layer, nullopt = no
// bias); the keyword lists describe leaky slopes (per hidden layer, 0 = ReLU), input skips (per
// layer incl. the head: layer l takes [a_{l-1}, x]), residual hidden layers and the columns of x
// each skip reads (start, stop per layer, -1, -1 for all of x and for layers without a skip).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/OptionalArrayRef.h>

#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

namespace specbias {

using TensorPair = std::tuple<at::Tensor, at::Tensor>;
using BiasList = c10::List<std::optional<at::Tensor>>;  // Tensor?[] biases
using SlopeList = std::optional<at::ArrayRef<double>>;  // float[]? slopes
using FlagList = std::optional<c10::List<bool>>;        // bool[]? input_skip / residual
using ColumnList = at::OptionalIntArrayRef;             // int[]? skip_columns

// The operator specbias::<name> (throws c10::Error if the library has not registered it).
c10::OperatorHandle find_op(const char* name);

// The version of the library (the Python package's version).
const char* library_version();

// Biases of every layer, for networks that have all of them.
inline BiasList all_biases(at::TensorList biases) {
  BiasList out;
  out.reserve(biases.size());
  for (const auto& b : biases) out.push_back(b);
  return out;
}

namespace ops {
namespace detail {
template <class Signature>
c10::TypedOperatorHandle<Signature> typed_op(const char* name) {
  return find_op(name).typed<Signature>();
}
}  // namespace detail

#define SPECBIAS_OP(name, signature) \
  static const auto op = ::specbias::ops::detail::typed_op<signature>(name)

inline std::string build_info() {
  SPECBIAS_OP("build_info", std::string());
  return op.call();
}

// ---- Region ops ----
inline at::Tensor activation_patterns(const at::Tensor& x, at::TensorList weights,
                                      const BiasList& biases, SlopeList slopes = std::nullopt,
                                      const FlagList& input_skip = std::nullopt,
                                      const FlagList& residual = std::nullopt,
                                      ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("activation_patterns",
              at::Tensor(const at::Tensor&, at::TensorList, const BiasList&, SlopeList,
                         const FlagList&, const FlagList&, ColumnList));
  return op.call(x, weights, biases, slopes, input_skip, residual, skip_columns);
}

inline TensorPair region_ids(const at::Tensor& patterns) {
  SPECBIAS_OP("region_ids", TensorPair(const at::Tensor&));
  return op.call(patterns);
}

inline at::Tensor hamming_pairs(const at::Tensor& patterns, const at::Tensor& i,
                                const at::Tensor& j,
                                at::OptionalIntArrayRef segments = std::nullopt) {
  SPECBIAS_OP("hamming_pairs", at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                          at::OptionalIntArrayRef));
  return op.call(patterns, i, j, segments);
}

inline std::vector<at::Tensor> hamming_neighbors(const at::Tensor& patterns,
                                                 at::IntArrayRef grid_shape) {
  SPECBIAS_OP("hamming_neighbors", std::vector<at::Tensor>(const at::Tensor&, at::IntArrayRef));
  return op.call(patterns, grid_shape);
}

inline at::Tensor bit_counts(const at::Tensor& patterns, int64_t num_bits) {
  SPECBIAS_OP("bit_counts", at::Tensor(const at::Tensor&, int64_t));
  return op.call(patterns, num_bits);
}

// ---- Gradient ops (per-example gradients are never materialised) ----
inline at::Tensor per_example_grad_norms(const at::Tensor& x, at::TensorList weights,
                                         const BiasList& biases, const at::Tensor& grad_out,
                                         SlopeList slopes = std::nullopt,
                                         const FlagList& input_skip = std::nullopt,
                                         const FlagList& residual = std::nullopt,
                                         ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("per_example_grad_norms",
              at::Tensor(const at::Tensor&, at::TensorList, const BiasList&, const at::Tensor&,
                         SlopeList, const FlagList&, const FlagList&, ColumnList));
  return op.call(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns);
}

inline at::Tensor grad_dots(const at::Tensor& x, at::TensorList weights, const BiasList& biases,
                            const at::Tensor& grad_out, const at::Tensor& i, const at::Tensor& j,
                            SlopeList slopes = std::nullopt,
                            const FlagList& input_skip = std::nullopt,
                            const FlagList& residual = std::nullopt,
                            ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("grad_dots",
              at::Tensor(const at::Tensor&, at::TensorList, const BiasList&, const at::Tensor&,
                         const at::Tensor&, const at::Tensor&, SlopeList, const FlagList&,
                         const FlagList&, ColumnList));
  return op.call(x, weights, biases, grad_out, i, j, slopes, input_skip, residual, skip_columns);
}

inline at::Tensor grad_gram(const at::Tensor& x, at::TensorList weights, const BiasList& biases,
                            const at::Tensor& grad_out,
                            const std::optional<at::Tensor>& rows = std::nullopt,
                            const std::optional<at::Tensor>& cols = std::nullopt,
                            SlopeList slopes = std::nullopt,
                            const FlagList& input_skip = std::nullopt,
                            const FlagList& residual = std::nullopt,
                            ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("grad_gram",
              at::Tensor(const at::Tensor&, at::TensorList, const BiasList&, const at::Tensor&,
                         const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
                         SlopeList, const FlagList&, const FlagList&, ColumnList));
  return op.call(x, weights, biases, grad_out, rows, cols, slopes, input_skip, residual, skip_columns);
}

inline TensorPair region_grad_norms(const at::Tensor& x, at::TensorList weights,
                                    const BiasList& biases, const at::Tensor& grad_out,
                                    const at::Tensor& ids, int64_t num_regions,
                                    SlopeList slopes = std::nullopt,
                                    const FlagList& input_skip = std::nullopt,
                                    const FlagList& residual = std::nullopt,
                                    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("region_grad_norms",
              TensorPair(const at::Tensor&, at::TensorList, const BiasList&, const at::Tensor&,
                         const at::Tensor&, int64_t, SlopeList, const FlagList&,
                         const FlagList&, ColumnList));
  return op.call(x, weights, biases, grad_out, ids, num_regions, slopes, input_skip, residual, skip_columns);
}

// ---- Geometry ops: forward mode from coordinates ----
// Through an encoding in affine-sine form: where(enc_periodic, sin(c A^T + b), c A^T + b).
inline TensorPair boundary_distance(const at::Tensor& coords, const at::Tensor& enc_matrix,
                                    const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                    at::TensorList weights, const BiasList& biases,
                                    SlopeList slopes = std::nullopt,
                                    const FlagList& input_skip = std::nullopt,
                                    const FlagList& residual = std::nullopt,
                                    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("boundary_distance",
              TensorPair(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                         const at::Tensor&, at::TensorList, const BiasList&, SlopeList,
                         const FlagList&, const FlagList&, ColumnList));
  return op.call(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, slopes,
                 input_skip, residual, skip_columns);
}

inline at::Tensor coord_gradients(const at::Tensor& coords, const at::Tensor& enc_matrix,
                                  const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                  at::TensorList weights, const BiasList& biases,
                                  SlopeList slopes = std::nullopt,
                                  const FlagList& input_skip = std::nullopt,
                                  const FlagList& residual = std::nullopt,
                                  ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("coord_gradients",
              at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                         const at::Tensor&, at::TensorList, const BiasList&, SlopeList,
                         const FlagList&, const FlagList&, ColumnList));
  return op.call(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, slopes,
                 input_skip, residual, skip_columns);
}

// Through any encoding given as values x [N, E] and Jacobian x_jacobian [N, E, D] = dx_e/dc_d.
inline TensorPair boundary_distance_encoded(const at::Tensor& x, const at::Tensor& x_jacobian,
                                            at::TensorList weights, const BiasList& biases,
                                            SlopeList slopes = std::nullopt,
                                            const FlagList& input_skip = std::nullopt,
                                            const FlagList& residual = std::nullopt,
                                            ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("boundary_distance_encoded",
              TensorPair(const at::Tensor&, const at::Tensor&, at::TensorList, const BiasList&,
                         SlopeList, const FlagList&, const FlagList&, ColumnList));
  return op.call(x, x_jacobian, weights, biases, slopes, input_skip, residual, skip_columns);
}

inline at::Tensor coord_gradients_encoded(const at::Tensor& x, const at::Tensor& x_jacobian,
                                          at::TensorList weights, const BiasList& biases,
                                          SlopeList slopes = std::nullopt,
                                          const FlagList& input_skip = std::nullopt,
                                          const FlagList& residual = std::nullopt,
                                          ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("coord_gradients_encoded",
              at::Tensor(const at::Tensor&, const at::Tensor&, at::TensorList, const BiasList&,
                         SlopeList, const FlagList&, const FlagList&, ColumnList));
  return op.call(x, x_jacobian, weights, biases, slopes, input_skip, residual, skip_columns);
}

// ---- Local complexity (int32 counts per point and hidden layer) ----
using TensorTriple = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// Sampled: [N, L] neurons whose pattern bit differs between vertices of the hull
// c +- radius * directions[k] (plus c with include_centre), encoded in affine-sine form.
inline at::Tensor local_complexity(const at::Tensor& coords, const at::Tensor& enc_matrix,
                                   const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                   const at::Tensor& directions, double radius,
                                   bool include_centre, at::TensorList weights,
                                   const BiasList& biases, SlopeList slopes = std::nullopt,
                                   const FlagList& input_skip = std::nullopt,
                                   const FlagList& residual = std::nullopt,
    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("local_complexity",
              at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                         const at::Tensor&, const at::Tensor&, double, bool, at::TensorList,
                         const BiasList&, SlopeList, const FlagList&, const FlagList&,
                         ColumnList));
  return op.call(coords, enc_matrix, enc_offset, enc_periodic, directions, radius,
                 include_centre, weights, biases, slopes, input_skip, residual, skip_columns);
}

// Sampled, from encoded vertices [N, V, E].
inline at::Tensor local_complexity_encoded(const at::Tensor& vertices, at::TensorList weights,
                                           const BiasList& biases,
                                           SlopeList slopes = std::nullopt,
                                           const FlagList& input_skip = std::nullopt,
                                           const FlagList& residual = std::nullopt,
    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("local_complexity_encoded",
              at::Tensor(const at::Tensor&, at::TensorList, const BiasList&, SlopeList,
                         const FlagList&, const FlagList&, ColumnList));
  return op.call(vertices, weights, biases, slopes, input_skip, residual, skip_columns);
}

// Sampled, on a grid whose hull vertices are grid points steps[d] points away along axis d:
// from the patterns of the grid, int32 [prod(grid_shape - 2 steps), segments.size() - 1].
inline at::Tensor grid_complexity(const at::Tensor& patterns, at::IntArrayRef grid_shape,
                                  at::IntArrayRef steps, bool include_centre,
                                  at::IntArrayRef segments) {
  SPECBIAS_OP("grid_complexity", at::Tensor(const at::Tensor&, at::IntArrayRef, at::IntArrayRef,
                                            bool, at::IntArrayRef));
  return op.call(patterns, grid_shape, steps, include_centre, segments);
}

// First order: (distance [N], argmin [N], counts [N, L, R]) with counts of |z|/||dz/dc|| <= radii.
inline TensorTriple first_order_complexity(const at::Tensor& coords, const at::Tensor& enc_matrix,
                                           const at::Tensor& enc_offset,
                                           const at::Tensor& enc_periodic,
                                           at::ArrayRef<double> radii, at::TensorList weights,
                                           const BiasList& biases,
                                           SlopeList slopes = std::nullopt,
                                           const FlagList& input_skip = std::nullopt,
                                           const FlagList& residual = std::nullopt,
    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("first_order_complexity",
              TensorTriple(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, at::ArrayRef<double>, at::TensorList,
                           const BiasList&, SlopeList, const FlagList&, const FlagList&,
                         ColumnList));
  return op.call(coords, enc_matrix, enc_offset, enc_periodic, radii, weights, biases, slopes,
                 input_skip, residual, skip_columns);
}

inline TensorTriple first_order_complexity_encoded(const at::Tensor& x,
                                                   const at::Tensor& x_jacobian,
                                                   at::ArrayRef<double> radii,
                                                   at::TensorList weights, const BiasList& biases,
                                                   SlopeList slopes = std::nullopt,
                                                   const FlagList& input_skip = std::nullopt,
                                                   const FlagList& residual = std::nullopt,
    ColumnList skip_columns = std::nullopt) {
  SPECBIAS_OP("first_order_complexity_encoded",
              TensorTriple(const at::Tensor&, const at::Tensor&, at::ArrayRef<double>,
                           at::TensorList, const BiasList&, SlopeList, const FlagList&,
                           const FlagList&, ColumnList));
  return op.call(x, x_jacobian, radii, weights, biases, slopes, input_skip, residual,
                 skip_columns);
}

#undef SPECBIAS_OP

}  // namespace ops
}  // namespace specbias
