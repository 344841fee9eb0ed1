// Every schema of the specbias library, in one place. CPU kernels live in cpu/<op>.cpp and CUDA
// kernels in cuda/<op>.cu; each registers itself with TORCH_LIBRARY_IMPL for its dispatch key.
// Fake (meta) kernels for torch.compile are registered from Python (specbias_ext/ops.py).
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
    << "\", \"threads\": " << at::get_num_threads() << "}";
  return s.str();
}

}  // namespace specbias

TORCH_LIBRARY(specbias, m) {
  m.def("build_info() -> str", &specbias::build_info);

  // Region ops.
  m.def("activation_patterns(Tensor x, Tensor[] weights, Tensor[] biases) -> Tensor");
  m.def("region_ids(Tensor patterns) -> (Tensor, Tensor)");
  m.def("hamming_pairs(Tensor patterns, Tensor i, Tensor j, int[]? segments=None) -> Tensor");
  m.def("hamming_neighbors(Tensor patterns, SymInt[] grid_shape) -> Tensor[]");
  m.def("bit_counts(Tensor patterns, int num_bits) -> Tensor");

  // Gradient ops (per-example gradients are never materialised).
  m.def(
      "per_example_grad_norms(Tensor x, Tensor[] weights, Tensor[] biases, Tensor grad_out) "
      "-> Tensor");
  m.def(
      "grad_dots(Tensor x, Tensor[] weights, Tensor[] biases, Tensor grad_out, Tensor i, "
      "Tensor j) -> Tensor");
  m.def(
      "grad_gram(Tensor x, Tensor[] weights, Tensor[] biases, Tensor grad_out, "
      "Tensor? rows=None, Tensor? cols=None) -> Tensor");
  m.def(
      "region_grad_norms(Tensor x, Tensor[] weights, Tensor[] biases, Tensor grad_out, "
      "Tensor ids, int num_regions) -> (Tensor, Tensor)");

  // Geometry ops: forward mode from coordinates through an encoding in affine-sine form,
  // encode(c) = where(enc_periodic, sin(c @ enc_matrix.T + enc_offset), c @ enc_matrix.T + enc_offset).
  m.def(
      "boundary_distance(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
      "Tensor enc_periodic, Tensor[] weights, Tensor[] biases) -> (Tensor, Tensor)");
  m.def(
      "coord_gradients(Tensor coords, Tensor enc_matrix, Tensor enc_offset, "
      "Tensor enc_periodic, Tensor[] weights, Tensor[] biases) -> Tensor");
}

// None of the ops is differentiable (bit patterns, counts, measurements of gradients). Autograd
// falls through to the CPU/CUDA kernels, so live nn.Parameters can be passed in and the results
// carry no grad_fn (instead of one that warns on backward).
TORCH_LIBRARY_IMPL(specbias, Autograd, m) {
  for (const char* op :
       {"activation_patterns", "region_ids", "hamming_pairs", "hamming_neighbors", "bit_counts",
        "per_example_grad_norms", "grad_dots", "grad_gram", "region_grad_norms",
        "boundary_distance", "coord_gradients"}) {
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
