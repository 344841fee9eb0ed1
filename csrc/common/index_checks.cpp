#include "index_checks.h"

namespace specbias {

void check_indices(const at::Tensor& idx, const char* name, int64_t n, const at::Device& device) {
  TORCH_CHECK(idx.dim() == 1, name, ": expected a 1-D index tensor, got ", idx.dim(),
              " dimensions");
  TORCH_CHECK(idx.scalar_type() == at::kLong, name, ": expected int64 indices, got ",
              idx.scalar_type());
  TORCH_CHECK(idx.device() == device, name, ": expected device ", device, ", got ", idx.device());
  if (idx.numel() > 0) {
    auto mn = idx.min().item<int64_t>();
    auto mx = idx.max().item<int64_t>();
    TORCH_CHECK(mn >= 0 && mx < n, name, ": expected indices in [0, ", n, "), got values in [", mn,
                ", ", mx, "]");
  }
}

}  // namespace specbias
