#include "region_groups.h"

namespace specbias {

RegionOrder sort_by_region_cpu(const at::Tensor& ids_cpu, int64_t num_regions) {
  const at::Tensor ids = ids_cpu.contiguous();
  const int64_t n = ids.size(0);
  const int64_t* id = ids.data_ptr<int64_t>();
  RegionOrder ro;
  ro.offsets.assign(num_regions + 1, 0);
  for (int64_t p = 0; p < n; ++p) ++ro.offsets[id[p] + 1];
  for (int64_t r = 0; r < num_regions; ++r) ro.offsets[r + 1] += ro.offsets[r];
  ro.order = at::empty({n}, ids.options());
  int64_t* order = ro.order.data_ptr<int64_t>();
  std::vector<int64_t> next(ro.offsets.begin(), ro.offsets.end() - 1);
  for (int64_t p = 0; p < n; ++p) order[next[id[p]]++] = p;
  return ro;
}

std::vector<RegionItem> region_items(const std::vector<int64_t>& offsets, int64_t cap) {
  std::vector<RegionItem> items;
  const int64_t regions = static_cast<int64_t>(offsets.size()) - 1;
  int64_t start = 0;
  for (int64_t r = 0; r < regions; ++r) {
    const int64_t size = offsets[r + 1] - offsets[r];
    if (size > cap) {
      if (start < r) items.push_back({start, r});
      items.push_back({r, r + 1});
      start = r + 1;
    } else if (offsets[r + 1] - offsets[start] > cap) {
      items.push_back({start, r});
      start = r;
    }
  }
  if (start < regions) items.push_back({start, regions});
  return items;
}

}  // namespace specbias
