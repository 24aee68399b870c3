// O2ncTable (o2nc.hpp): the checks of o2nc_update split in two. The constructor checks what does not
// change between steps (params and buffers); step() checks the gradients' memory against the written
// arrays (a binary search each in the sorted, disjoint written ranges: no sort per step) and the
// hyper-parameters, then runs the call through the same dispatch as o2nc_update_device.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "front_end.hpp"

namespace homotopt {

struct O2ncTable::Impl {
  std::vector<O2ncTensor> tensors;       // g filled per step
  std::vector<std::int64_t> group_sizes;
  struct Range {
    std::uintptr_t begin, end;
    std::uint32_t index;  // 2 tensor + (0 param, 1 buffer)
  };
  std::vector<Range> written;  // sorted by begin, disjoint
  Device device;
};

O2ncTable::O2ncTable(const std::vector<ArrayView>& params, const std::vector<ArrayView>& buffers,
                     const std::vector<std::int64_t>& group_sizes)
    : impl_(std::make_unique<Impl>()) {
  const std::size_t n = params.size();
  HOMOTOPT_CHECK(n < (std::size_t{1} << 30), "params: expected fewer than 2^30 arrays, got ", n);
  HOMOTOPT_CHECK(buffers.size() == n, "buffers: expected ", n, " arrays (one per param), got ", buffers.size());
  std::int64_t grouped = 0;
  for (std::size_t k = 0; k < group_sizes.size(); ++k) {
    HOMOTOPT_CHECK(group_sizes[k] >= 0, "groups: expected sizes >= 0, got ", group_sizes[k], " for group ", k);
    grouped += group_sizes[k];
  }
  HOMOTOPT_CHECK(grouped == static_cast<std::int64_t>(n), "groups: expected sizes that add up to ", n,
                 " (the number of params), got ", grouped);
  Impl& t = *impl_;
  t.group_sizes = group_sizes;
  t.device = n > 0 ? params[0].device : Device{};
  std::int32_t group = 0;
  std::int64_t group_end = group_sizes.empty() ? 0 : group_sizes[0];
  for (std::size_t i = 0; i < n; ++i) {
    while (static_cast<std::int64_t>(i) >= group_end) group_end += group_sizes[static_cast<std::size_t>(++group)];
    const ArrayView &x = params[i], &D = buffers[i];
    HOMOTOPT_CHECK_TYPE(x.dtype == DType::float32 || x.dtype == DType::float64 || x.dtype == DType::float16 ||
                            x.dtype == DType::bfloat16,
                        "params[", i, "]: expected dtype float32, float64, float16 or bfloat16, got ",
                        dtype_name(x.dtype));
    front_end::o2nc_check_buffer_dtype(x.dtype, D.dtype, i);
    HOMOTOPT_CHECK(x.device == t.device && D.device == t.device, "params[", i, "], buffers[", i,
                   "]: expected arrays on ", device_name(t.device), " (the device of params[0]), got ",
                   device_name(x.device), " and ", device_name(D.device));
    HOMOTOPT_CHECK(x.numel() == D.numel(), "buffers[", i, "]: expected ", x.numel(), " elements (as params[", i,
                   "]), got ", D.numel());
    HOMOTOPT_CHECK(x.contiguous() && D.contiguous(), "params[", i, "], buffers[", i,
                   "]: expected C-contiguous arrays, got strides that are not");
    HOMOTOPT_CHECK(x.writable && D.writable, "params[", i, "], buffers[", i,
                   "]: expected writable arrays, got a read-only one");
    const std::int64_t count = x.numel();
    t.tensors.push_back({x.data, nullptr, D.data, count, x.dtype, group, D.dtype});
    if (count == 0) continue;
    const auto bx = reinterpret_cast<std::uintptr_t>(x.data), bd = reinterpret_cast<std::uintptr_t>(D.data);
    t.written.push_back({bx, bx + static_cast<std::uintptr_t>(count) * dispatch::item_size(x.dtype),
                         static_cast<std::uint32_t>(2 * i)});
    t.written.push_back({bd, bd + static_cast<std::uintptr_t>(count) * dispatch::item_size(D.dtype),
                         static_cast<std::uint32_t>(2 * i + 1)});
  }
  std::sort(t.written.begin(), t.written.end(), [](const Impl::Range& a, const Impl::Range& b) {
    return a.begin < b.begin;
  });
  for (std::size_t k = 1; k < t.written.size(); ++k) {
    const Impl::Range &a = t.written[k - 1], &b = t.written[k];
    HOMOTOPT_CHECK(a.end <= b.begin, a.index % 2 ? "buffers[" : "params[", a.index / 2, "] and ",
                   b.index % 2 ? "buffers[" : "params[", b.index / 2,
                   "]: expected memory of their own (each is written by the update), got arrays that overlap");
  }
}

O2ncTable::~O2ncTable() = default;
O2ncTable::O2ncTable(O2ncTable&&) noexcept = default;
O2ncTable& O2ncTable::operator=(O2ncTable&&) noexcept = default;

std::int64_t O2ncTable::size() const { return static_cast<std::int64_t>(impl_->tensors.size()); }
Device O2ncTable::device() const { return impl_->device; }

void O2ncTable::step(const std::vector<const void*>& grads, const std::vector<O2ncHyper>& hypers,
                     const O2ncOptions& options, const ArrayView& state) const {
  const Impl& t = *impl_;
  HOMOTOPT_CHECK(grads.size() == t.tensors.size(), "grads: expected ", t.tensors.size(),
                 " pointers (one per param of the table), got ", grads.size());
  HOMOTOPT_CHECK(hypers.size() == t.group_sizes.size(), "hypers: expected ", t.group_sizes.size(),
                 " (one per group of the table), got ", hypers.size());
  HOMOTOPT_CHECK(!options.scale || (std::isfinite(*options.scale) && *options.scale >= 0.0),
                 "s: expected a finite value >= 0, got ", options.scale.value_or(0.0));
  check_dtype(state, DType::int64, "state");
  HOMOTOPT_CHECK(state.ndim == 1 && state.shape[0] == 6, "state: expected shape (6,) (an O2ncDeviceState), got ",
                 state.shape_string());
  HOMOTOPT_CHECK(state.device == t.device || t.tensors.empty(), "state: expected an array on ",
                 device_name(t.device), " (the device of the table), got one on ", device_name(state.device));
  std::vector<O2ncGroup> groups(hypers.size());
  for (std::size_t k = 0; k < hypers.size(); ++k) {
    front_end::o2nc_check_hyper(hypers[k], k, hypers.size());
    groups[k] = {t.group_sizes[k], hypers[k]};
  }
  std::vector<O2ncTensor> tensors;
  tensors.reserve(t.tensors.size());
  const auto state_begin = reinterpret_cast<std::uintptr_t>(state.data);
  const auto overlapped = [&](std::uintptr_t begin, std::uintptr_t end) {
    // The first written range that ends after `begin`; ranges are disjoint, so ends increase too.
    const auto it = std::upper_bound(t.written.begin(), t.written.end(), begin,
                                     [](std::uintptr_t b, const Impl::Range& r) { return b < r.end; });
    return it != t.written.end() && it->begin < end;
  };
  HOMOTOPT_CHECK(!overlapped(state_begin, state_begin + sizeof(O2ncDeviceState)),
                 "state: expected memory of its own, got an array that overlaps a param or buffer");
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (grads[i] == nullptr) continue;
    O2ncTensor tensor = t.tensors[i];
    tensor.g = grads[i];
    if (tensor.n > 0) {
      const auto begin = reinterpret_cast<std::uintptr_t>(grads[i]);
      const std::uintptr_t end = begin + static_cast<std::uintptr_t>(tensor.n) * dispatch::item_size(tensor.dtype);
      HOMOTOPT_CHECK(!overlapped(begin, end), "grads[", i,
                     "]: expected memory of its own, got an array that overlaps a param or buffer (written)");
      HOMOTOPT_CHECK(end <= state_begin || state_begin + sizeof(O2ncDeviceState) <= begin, "grads[", i,
                     "]: expected memory of its own, got an array that overlaps the state");
    }
    tensors.push_back(tensor);
  }
  dispatch::kernel(&Kernels::o2nc_update_device, t.device, "O2ncTable.step")(tensors, groups, options,
                                                                            state.ptr<O2ncDeviceState>(), t.device.index);
}

}  // namespace homotopt
