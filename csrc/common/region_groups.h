// Grouping points by region id for region_grad_norms: a stable counting sort and the split of
// the sorted points into work items (runs of whole regions, or one large region).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace specbias {

struct RegionOrder {
  at::Tensor order;              // int64 [N]: point indices sorted by id, stable
  std::vector<int64_t> offsets;  // [R + 1]: members of region r are order[offsets[r]:offsets[r+1]]
};

// Stable counting sort of CPU ids in [0, num_regions).
RegionOrder sort_by_region_cpu(const at::Tensor& ids_cpu, int64_t num_regions);

struct RegionItem {
  int64_t r0, r1;  // regions [r0, r1)
};

// Consecutive regions packed into items of at most `cap` points; a region with more members
// than `cap` is an item of its own (processed in sub-chunks).
std::vector<RegionItem> region_items(const std::vector<int64_t>& offsets, int64_t cap);

// Region-size threshold of layer l (weights [out, in]): regions with at most this many members
// sum pairwise products (delta_i . delta_j)(a_i . a_j + 1), larger ones accumulate
// sum_i delta_i [a_i, 1]^T. The costs are n^2 (out + in + 1) / 2 and n out (in + 1).
inline int64_t pairwise_cutoff(int64_t out, int64_t in) {
  return std::max<int64_t>(1, (2 * out * (in + 1)) / (out + in + 1) / 4);
}

}  // namespace specbias
