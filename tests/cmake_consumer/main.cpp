// Prints, one per line: build_info, then the region ids and counts of fixed patterns, and the
// bit counts; with "patterns" as first argument also activation_patterns of a fixed network.
// python_tests/test_cmake_consumer.py compares them with the pip build.
#include <specbias/ops.h>

#include <ATen/ATen.h>

#include <cstring>
#include <iostream>

static void print(const char* name, const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kLong).contiguous().view(-1);
  std::cout << name;
  for (int64_t k = 0; k < flat.numel(); ++k) std::cout << ' ' << flat[k].item<int64_t>();
  std::cout << '\n';
}

int main(int argc, char** argv) {
  std::cout << "version " << specbias::library_version() << '\n';
  std::cout << "build_info " << specbias::ops::build_info() << '\n';
  const at::Tensor patterns = at::arange(40, at::kLong).remainder(7).mul(0x0101).view({20, 2});
  auto [ids, counts] = specbias::ops::region_ids(patterns);
  print("ids", ids);
  print("counts", counts);
  print("bit_counts", specbias::ops::bit_counts(patterns, 128));
  if (argc > 1 && std::strcmp(argv[1], "patterns") == 0) {
    const at::Tensor x = at::linspace(-1, 1, 30, at::kDouble).view({10, 3});
    const at::Tensor w0 = at::linspace(-2, 2, 12, at::kDouble).view({4, 3});
    const at::Tensor w1 = at::linspace(1, -1, 4, at::kDouble).view({1, 4});
    const at::Tensor b0 = at::linspace(-0.5, 0.5, 4, at::kDouble);
    print("patterns", specbias::ops::activation_patterns(x, {w0, w1},
                                                    specbias::all_biases({b0, at::zeros({1}, at::kDouble)})));
  }
  return 0;
}
