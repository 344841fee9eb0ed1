// Every schema of the specbias library, in one place. CPU kernels live in cpu/<op>.cpp and CUDA
// kernels in cuda/<op>.cu; each registers itself with TORCH_LIBRARY_IMPL for its dispatch key.
// Fake (meta) kernels for torch.compile are registered from Python (specbias_ext/ops/).
#ifdef SPECBIAS_PYTHON_MODULE
#include <Python.h>
#endif
#include <torch/library.h>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <sstream>
#include <string>

#ifndef SPECBIAS_CUDA_ARCH_LIST
#define SPECBIAS_CUDA_ARCH_LIST ""
#endif
#ifndef SPECBIAS_BUILD_SYSTEM
#define SPECBIAS_BUILD_SYSTEM ""
#endif
#ifndef SPECBIAS_BUILD_FLAGS
#define SPECBIAS_BUILD_FLAGS ""
#endif
#define SPECBIAS_STR_(x) #x
#define SPECBIAS_STR(x) SPECBIAS_STR_(x)
#if defined(__clang__)
#define SPECBIAS_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define SPECBIAS_COMPILER "gcc " __VERSION__
#else
#define SPECBIAS_COMPILER "unknown"
#endif

namespace specbias {

std::string build_info() {
  std::ostringstream s;
#ifdef SPECBIAS_WITH_CUDA
  const bool cuda = true;
#else
  const bool cuda = false;
#endif
  s << "{\"cuda\": " << (cuda ? "true" : "false") << ", \"cuda_arch_list\": \""
    << SPECBIAS_CUDA_ARCH_LIST << "\", \"torch_version\": \"" << TORCH_VERSION
    << "\", \"threads\": " << at::get_num_threads()
    // The toolchain fingerprint, as preprocessor strings (no run-time formatting).
    << ", \"compiler\": \"" SPECBIAS_COMPILER "\", \"cxx_standard\": \"" SPECBIAS_STR(__cplusplus)
       "\", \"cxx11_abi\": \"" SPECBIAS_STR(_GLIBCXX_USE_CXX11_ABI)
       "\", \"build_system\": \"" SPECBIAS_BUILD_SYSTEM "\", \"build_flags\": \"" SPECBIAS_BUILD_FLAGS
       "\"}";
  return s.str();
}

}  // namespace specbias

TORCH_LIBRARY(specbias, m) {
  m.def("build_info() -> str", &specbias::build_info);

  // The network description every network op takes (see common/network.h):
  //   Tensor[] weights, Tensor?[] biases, *, float[]? slopes, bool[]? input_skip, bool[]? residual,
  //   int[]? skip_columns
  // Keyword-only lists after `*`, so the positional calls of a plain MLP keep working.
  // skip_columns: two entries per layer, head included: the columns [start, stop) of x that
  // layer l's input skip reads are skip_columns[2l], skip_columns[2l+1]; -1, -1 for all of x and
  // for a layer without a skip. None: every skip reads all of x.
#define SPECBIAS_NET "Tensor[] weights, Tensor?[] biases"
#define SPECBIAS_KW                                                               \
  "*, float[]? slopes=None, bool[]? input_skip=None, bool[]? residual=None, " \
  "int[]? skip_columns=None"

  // Region ops.
  m.def("activation_patterns(Tensor x, " SPECBIAS_NET ", " SPECBIAS_KW ") -> Tensor");
  m.def("region_ids(Tensor patterns) -> (Tensor, Tensor)");
  m.def("hamming_pairs(Tensor patterns, Tensor i, Tensor j, int[]? segments=None) -> Tensor");
  m.def("hamming_neighbors(Tensor patterns, SymInt[] grid_shape) -> Tensor[]");
  m.def("bit_counts(Tensor patterns, SymInt num_bits) -> Tensor");

  // Gradient ops (per-example gradients over every parameter, never materialised).
  m.def("per_example_grad_norms(Tensor x, " SPECBIAS_NET ", Tensor grad_out, " SPECBIAS_KW
        ") -> Tensor");
  m.def("grad_dots(Tensor x, " SPECBIAS_NET ", Tensor grad_out, Tensor i, Tensor j, " SPECBIAS_KW
        ") -> Tensor");
  m.def("grad_gram(Tensor x, " SPECBIAS_NET ", Tensor grad_out, Tensor? rows=None, "
        "Tensor? cols=None, " SPECBIAS_KW ") -> Tensor");
  m.def("region_grad_norms(Tensor x, " SPECBIAS_NET ", Tensor grad_out, Tensor ids, "
        "SymInt num_regions, " SPECBIAS_KW ") -> (Tensor, Tensor)");

  // Geometry ops: forward mode from coordinates through an encoding in affine-sine form,
  // encode(c) = where(enc_periodic, sin(c @ enc_matrix.T + enc_offset), c @ enc_matrix.T + enc_offset),
  // or (the *_encoded ops) from encoded points x [N, E] with x_jacobian [N, E, D] = dx_e / dc_d.
  m.def("boundary_distance(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
        "Tensor enc_periodic, " SPECBIAS_NET ", " SPECBIAS_KW ") -> (Tensor, Tensor)");
  m.def("coord_gradients(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
        "Tensor enc_periodic, " SPECBIAS_NET ", " SPECBIAS_KW ") -> Tensor");
  m.def("boundary_distance_encoded(Tensor x, Tensor x_jacobian, " SPECBIAS_NET ", " SPECBIAS_KW
        ") -> (Tensor, Tensor)");
  m.def("coord_gradients_encoded(Tensor x, Tensor x_jacobian, " SPECBIAS_NET ", " SPECBIAS_KW
        ") -> Tensor");

  // Local complexity, int32 counts per point and hidden layer. Sampled: neurons whose pattern
  // bit is not the same at every vertex of the point's hull, the vertices c +- radius *
  // directions[k] (and c itself with include_centre) encoded inside the kernel, or given
  // already encoded as vertices [N, V, E] -> [N, L]. First order: neurons with
  // |z| / ||dz/dc|| <= radii[q], in the boundary-distance pass -> (distance [N], argmin [N],
  // counts [N, L, R]).
  m.def("local_complexity(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
        "Tensor enc_periodic, Tensor directions, float radius, bool include_centre, " SPECBIAS_NET
        ", " SPECBIAS_KW ") -> Tensor");
  m.def("local_complexity_encoded(Tensor vertices, " SPECBIAS_NET ", " SPECBIAS_KW ") -> Tensor");
  // Sampled, on a grid whose hull vertices are grid points (steps[d] points away along axis d):
  // from the patterns of the grid, int32 [prod(grid_shape - 2 steps), segments - 1] for the
  // points whose whole hull is in the grid.
  m.def("grid_complexity(Tensor patterns, SymInt[] grid_shape, int[] steps, "
        "bool include_centre, int[] segments) -> Tensor");
  m.def("first_order_complexity(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
        "Tensor enc_periodic, float[] radii, " SPECBIAS_NET ", " SPECBIAS_KW
        ") -> (Tensor, Tensor, Tensor)");
  m.def("first_order_complexity_encoded(Tensor x, Tensor x_jacobian, float[] radii, "
        SPECBIAS_NET ", " SPECBIAS_KW ") -> (Tensor, Tensor, Tensor)");
}

// None of the ops is differentiable (bit patterns, counts, measurements of gradients). Autograd
// falls through to the CPU/CUDA kernels, so live nn.Parameters can be passed in and the results
// carry no grad_fn (instead of one that warns on backward).
TORCH_LIBRARY_IMPL(specbias, Autograd, m) {
  for (const char* op :
       {"activation_patterns", "region_ids", "hamming_pairs", "hamming_neighbors", "bit_counts",
        "per_example_grad_norms", "grad_dots", "grad_gram", "region_grad_norms",
        "boundary_distance", "coord_gradients", "boundary_distance_encoded",
        "coord_gradients_encoded", "local_complexity", "local_complexity_encoded",
        "grid_complexity",
        "first_order_complexity", "first_order_complexity_encoded"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}

#ifdef SPECBIAS_PYTHON_MODULE
// The module only exists so that `import specbias_ext._C` loads the library and runs the
// registrations above; it has no Python functions of its own.
extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
#endif  // SPECBIAS_PYTHON_MODULE
