// Row reductions of the CPU gradient kernels, accumulated in float64 whatever the input dtype.
#pragma once

#include <cstdint>

namespace specbias {
namespace cpu {

template <typename T>
inline double sq_norm(const T* p, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += double(p[k]) * double(p[k]);
  return s;
}

template <typename T>
inline double dot(const T* p, const T* q, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += double(p[k]) * double(q[k]);
  return s;
}

}  // namespace cpu
}  // namespace specbias
