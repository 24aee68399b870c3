// The launch plan of the CUDA O2NC update (o2nc_plan.hpp), and the same schedule run serially on the
// CPU for the tests. Compiled in every build: the plan is host code, and CPU-only machines test it.
#include "o2nc_plan.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace homotopt::detail {

O2ncPlan o2nc_plan(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups, int max_slots,
                   int max_groups) {
  HOMOTOPT_ASSERT(max_slots >= 1 && max_groups >= 1 && max_groups <= 255);
  O2ncPlan plan;
  std::int64_t offset = 0;
  int last_group = -1;  // the call's group of the batch's last hyper-parameter entry
  for (const O2ncTensor& t : tensors) {
    const std::int64_t n = t.n;
    offset += n;
    if (n == 0) continue;  // nothing to read or write: no slot, no block
    const std::int64_t chunk = o2nc_chunk_elements(t.dtype);
    const std::int64_t blocks = (n + chunk - 1) / chunk;
    // 2^31 blocks would be 2^45 elements in one tensor: no device holds that.
    HOMOTOPT_ASSERT(blocks < std::numeric_limits<std::int32_t>::max());
    O2ncPlan::Batch* batch = plan.batches.empty() ? nullptr : &plan.batches.back();
    const bool new_group = batch == nullptr || t.group != last_group;
    if (batch == nullptr || batch->slots == max_slots || (new_group && batch->hypers == max_groups) ||
        batch->blocks > std::numeric_limits<std::int32_t>::max() - blocks) {
      O2ncPlan::Batch fresh;
      fresh.first_slot = static_cast<int>(plan.slots.size());
      fresh.first_hyper = static_cast<int>(plan.hypers.size());
      plan.batches.push_back(fresh);
      batch = &plan.batches.back();
    }
    if (batch->hypers == 0 || t.group != last_group) {
      plan.hypers.push_back(groups[static_cast<std::size_t>(t.group)].hyper);
      ++batch->hypers;
      last_group = t.group;
    }
    const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
    O2ncSlot s;
    s.x = t.x;
    s.g = t.g;
    s.D = t.D;
    s.n = n;
    s.offset = offset - n;
    s.first_block = batch->blocks;
    s.group = static_cast<std::uint8_t>(batch->hypers - 1);
    s.buffer_dtype = static_cast<std::uint8_t>(t.buffer_dtype);
    s.dtype = static_cast<std::uint8_t>(t.dtype);
    s.packed = (t.dtype == DType::float32 || t.dtype == DType::float64) && aligned(t.x) && aligned(t.g) &&
               aligned(t.D);
    plan.slots.push_back(s);
    ++batch->slots;
    batch->blocks += static_cast<std::int32_t>(blocks);
  }
  return plan;
}

namespace {

// What one block's thread 0 works out before its threads start (as in the kernel).
template <class C>
void run_block_update(const O2ncSlot& s, std::int64_t begin, std::int64_t end, const O2ncHyper& h, double scale) {
  const O2ncCoefficients<C> c = o2nc_coefficients<C>(h, scale);
  for (int thread = 0; thread < kO2ncThreads; ++thread) {
    if (h.weight_decay != 0.0) o2nc_update_chunk<true>(s, begin, end, thread, c);
    else o2nc_update_chunk<false>(s, begin, end, thread, c);
  }
}

}  // namespace

std::int64_t o2nc_run_plan_on_cpu(const O2ncPlan& plan, double scale, bool check_finite, bool update) {
  std::int64_t first = -1;
  if (check_finite) {  // the finiteness launches, every batch, before any update launch
    for (const O2ncPlan::Batch& batch : plan.batches) {
      const O2ncSlot* slots = plan.slots.data() + batch.first_slot;
      for (std::int32_t block = 0; block < batch.blocks; ++block) {
        const O2ncSlot& s = slots[slot_of(slots, batch.slots, block)];
        std::int64_t begin, end;
        o2nc_chunk_range(s, block, begin, end);
        for (int thread = 0; thread < kO2ncThreads; ++thread) {
          const std::int64_t k = o2nc_first_nonfinite_chunk(s, begin, end, thread);
          if (k >= 0 && (first < 0 || s.offset + begin + k < first)) first = s.offset + begin + k;  // atomicMin
        }
      }
    }
  }
  if (!update || first >= 0) return first;
  for (const O2ncPlan::Batch& batch : plan.batches) {
    const O2ncSlot* slots = plan.slots.data() + batch.first_slot;
    const O2ncHyper* hypers = plan.hypers.data() + batch.first_hyper;
    for (std::int32_t block = 0; block < batch.blocks; ++block) {
      const O2ncSlot& s = slots[slot_of(slots, batch.slots, block)];
      HOMOTOPT_ASSERT(s.group < batch.hypers);
      std::int64_t begin, end;
      o2nc_chunk_range(s, block, begin, end);
      HOMOTOPT_ASSERT(begin >= 0 && begin < end && end <= s.n);
      if (s.dtype == static_cast<std::uint8_t>(DType::float64)) run_block_update<double>(s, begin, end, hypers[s.group], scale);
      else run_block_update<float>(s, begin, end, hypers[s.group], scale);
    }
  }
  return first;
}

}  // namespace homotopt::detail
