// Front end of the O2NC entry points (o2nc.hpp): every entry point of o2nc.hpp
// checks its inputs here, once, before any element is touched: list lengths, hyper-parameters, each
// triple's dtype, shape, device, layout and writability, memory overlaps, then (optionally) the grads'
// values; the arrays' device picks csrc/cpu/o2nc.cpp or cuda/o2nc.cu. A CUDA array in a CPU-only
// build is a clear error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backend.hpp"
#include "cuda/o2nc_plan.hpp"
#include "front_end.hpp"

namespace homotopt {
namespace {

// The bytes of one array of the call; tag = 3 index + (0 params, 1 grads, 2 buffers). Kept to 24 bytes:
// sorting these is most of the checks' cost for a model of many small tensors.
struct MemoryRange {
  std::uintptr_t begin, end;
  std::uint32_t tag;
  bool written() const { return tag % 3 != 1; }
  const char* list() const { return tag % 3 == 0 ? "params" : tag % 3 == 1 ? "grads" : "buffers"; }
  std::uint32_t index() const { return tag / 3; }
};


bool same_shape(const ArrayView& a, const ArrayView& b) {
  if (a.ndim != b.ndim) return false;
  for (int k = 0; k < a.ndim; ++k)
    if (a.shape[k] != b.shape[k]) return false;
  return true;
}

}  // namespace

std::size_t dispatch::item_size(DType t) {
  return t == DType::float16 || t == DType::bfloat16 ? 2 : t == DType::float32 || t == DType::int32 ? 4 : 8;
}

void front_end::o2nc_check_buffer_dtype(DType x, DType D, std::size_t i) {
  const bool sixteen = x == DType::float16 || x == DType::bfloat16;
  HOMOTOPT_CHECK_TYPE(D == x || (sixteen && D == DType::float32), "buffers[", i, "]: expected dtype ",
                      dtype_name(x), sixteen ? " or float32" : "", " (the dtype of params[", i, "]), got ",
                      dtype_name(D));
}

void front_end::o2nc_check_hyper(const O2ncHyper& h, std::size_t group, std::size_t groups) {
  const std::string where = groups > 1 ? detail::concat(" (param group ", group, ")") : std::string();
  HOMOTOPT_CHECK(std::isfinite(h.lr) && h.lr >= 0.0, "lr: expected a finite value >= 0, got ", h.lr, where);
  HOMOTOPT_CHECK(h.beta > 0.0 && h.beta <= 1.0, "beta: expected a value in (0, 1], got ", h.beta, where);
  HOMOTOPT_CHECK(std::isfinite(h.mu) && h.mu >= 0.0, "mu: expected a finite value >= 0, got ", h.mu, where);
  HOMOTOPT_CHECK(std::isfinite(h.weight_decay) && h.weight_decay >= 0.0,
                 "weight_decay: expected a finite value >= 0, got ", h.weight_decay, where);
  HOMOTOPT_CHECK(std::isfinite(h.grad_multiplier) && h.grad_multiplier > 0.0,
                 "grad_multiplier: expected a finite value > 0 (e.g. 1 / a GradScaler's scale), got ",
                 h.grad_multiplier, where);
}

namespace {
using dispatch::item_size;

// One triple: dtypes, devices, shapes, layout and writability. Returns its element count.
std::int64_t check_o2nc_triple(const ArrayView& x, const ArrayView& g, const ArrayView& D, std::size_t i,
                               const Device& device) {
  HOMOTOPT_CHECK_TYPE(x.dtype == DType::float32 || x.dtype == DType::float64 || x.dtype == DType::float16 ||
                          x.dtype == DType::bfloat16,
                      "params[", i, "]: expected dtype float32, float64, float16 or bfloat16, got ",
                      dtype_name(x.dtype));
  HOMOTOPT_CHECK_TYPE(g.dtype == x.dtype, "grads[", i, "]: expected dtype ", dtype_name(x.dtype),
                      " (the dtype of params[", i, "]), got ", dtype_name(g.dtype));
  front_end::o2nc_check_buffer_dtype(x.dtype, D.dtype, i);
  HOMOTOPT_CHECK(x.device == device, "params[", i, "]: expected an array on ", device_name(device),
                 " (the device of params[0]), got one on ", device_name(x.device));
  HOMOTOPT_CHECK(g.device == device, "grads[", i, "]: expected an array on ", device_name(device),
                 " (the device of params[", i, "]), got one on ", device_name(g.device));
  HOMOTOPT_CHECK(D.device == device, "buffers[", i, "]: expected an array on ", device_name(device),
                 " (the device of params[", i, "]), got one on ", device_name(D.device));
  HOMOTOPT_CHECK(same_shape(g, x), "grads[", i, "]: expected shape ", x.shape_string(), " (the shape of params[",
                 i, "]), got ", g.shape_string());
  HOMOTOPT_CHECK(same_shape(D, x), "buffers[", i, "]: expected shape ", x.shape_string(),
                 " (the shape of params[", i, "]), got ", D.shape_string());
  HOMOTOPT_CHECK(x.contiguous(), "params[", i, "]: expected a C-contiguous array, got strides that are not");
  HOMOTOPT_CHECK(g.contiguous(), "grads[", i, "]: expected a C-contiguous array, got strides that are not");
  HOMOTOPT_CHECK(D.contiguous(), "buffers[", i, "]: expected a C-contiguous array, got strides that are not");
  HOMOTOPT_CHECK(x.writable, "params[", i, "]: expected a writable array, got a read-only one");
  HOMOTOPT_CHECK(D.writable, "buffers[", i, "]: expected a writable array, got a read-only one");
  return x.numel();
}

// No array that is written (a param or a buffer) may share a byte with another array of the call:
// the update would read values it had already overwritten. Grads may overlap each other.
// Sorted by start, an overlapping pair shows when its later-starting member begins before the
// furthest end seen so far (of any array if it is written, of a written one if it is read).
void check_o2nc_overlaps(std::vector<MemoryRange>& ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const MemoryRange& a, const MemoryRange& b) { return a.begin < b.begin; });
  const MemoryRange* furthest = nullptr;          // the range reaching furthest so far
  const MemoryRange* furthest_written = nullptr;  // the written range reaching furthest so far
  for (const MemoryRange& r : ranges) {
    const MemoryRange* other = r.written() ? furthest : furthest_written;
    if (other && other->end > r.begin) {
      const MemoryRange& w = r.written() ? r : *other;
      const MemoryRange& o = r.written() ? *other : r;
      HOMOTOPT_CHECK(false, w.list(), "[", w.index(), "]: expected memory of its own, got an array that overlaps ",
                     o.list(), "[", o.index(), "] (an array updated in place may share memory with no other "
                     "array of the call)");
    }
    if (!furthest || r.end > furthest->end) furthest = &r;
    if (r.written() && (!furthest_written || r.end > furthest_written->end)) furthest_written = &r;
  }
}


// A call's checked tensors: all on `device`, with `total` elements.
struct CheckedCall {
  std::vector<O2ncTensor> tensors;
  std::int64_t total = 0;
  Device device;
};

// Every check of a call; `state` (the device path's O2ncDeviceState, or null) must be one int64 (6,)
// array of its own on the arrays' device.
CheckedCall check_o2nc_call(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                            const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                            const O2ncOptions& options, const ArrayView* state) {
  const std::size_t n = params.size();
  HOMOTOPT_CHECK(n < (std::size_t{1} << 30), "params: expected fewer than 2^30 arrays, got ", n);
  HOMOTOPT_CHECK(grads.size() == n, "grads: expected ", n, " arrays (one per param), got ", grads.size());
  HOMOTOPT_CHECK(buffers.size() == n, "buffers: expected ", n, " arrays (one per param), got ", buffers.size());
  std::int64_t grouped = 0;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    HOMOTOPT_CHECK(groups[k].size >= 0, "groups: expected sizes >= 0, got ", groups[k].size, " for group ", k);
    front_end::o2nc_check_hyper(groups[k].hyper, k, groups.size());
    grouped += groups[k].size;
  }
  HOMOTOPT_CHECK(grouped == static_cast<std::int64_t>(n), "groups: expected sizes that add up to ", n,
                 " (the number of params), got ", grouped);
  HOMOTOPT_CHECK(!options.scale || (std::isfinite(*options.scale) && *options.scale >= 0.0),
                 "s: expected a finite value >= 0, got ", options.scale.value_or(0.0));
  HOMOTOPT_CHECK(static_cast<int>(options.scaling) >= 0 && static_cast<int>(options.scaling) <= 2,
                 "scaling: expected exponential, uniform or none, got ", static_cast<int>(options.scaling));

  CheckedCall call;
  call.device = n > 0 ? params[0].device : state ? state->device : Device{};
  if (state) {
    check_dtype(*state, DType::int64, "state");
    HOMOTOPT_CHECK(state->ndim == 1 && state->shape[0] == 6, "state: expected shape (6,) (an O2ncDeviceState), got ",
                   state->shape_string());
    check_contiguous(*state, "state");
    check_writable(*state, "state");
    HOMOTOPT_CHECK(state->device == call.device, "state: expected an array on ", device_name(call.device),
                   " (the device of params[0]), got one on ", device_name(state->device));
  }
  std::vector<MemoryRange> ranges;
  call.tensors.reserve(n);
  ranges.reserve(3 * n);
  std::int32_t group = 0;
  std::int64_t group_end = groups.empty() ? 0 : groups[0].size;
  for (std::size_t i = 0; i < n; ++i) {
    while (static_cast<std::int64_t>(i) >= group_end) group_end += groups[static_cast<std::size_t>(++group)].size;
    const ArrayView &x = params[i], &g = grads[i], &D = buffers[i];
    const std::int64_t count = check_o2nc_triple(x, g, D, i, call.device);
    call.total += count;
    call.tensors.push_back({x.data, g.data, D.data, count, x.dtype, group, D.dtype});
    if (count == 0) continue;
    const ArrayView* views[3] = {&x, &g, &D};
    for (std::uint32_t k = 0; k < 3; ++k) {
      const auto begin = reinterpret_cast<std::uintptr_t>(views[k]->data);
      const std::uintptr_t bytes = static_cast<std::uintptr_t>(count) * item_size(views[k]->dtype);
      ranges.push_back({begin, begin + bytes, static_cast<std::uint32_t>(3 * i) + k});
    }
  }
  if (state) {  // the kernel writes the state: no array may share its bytes
    const auto begin = reinterpret_cast<std::uintptr_t>(state->data);
    const std::uintptr_t end = begin + sizeof(O2ncDeviceState);
    for (const MemoryRange& r : ranges)
      HOMOTOPT_CHECK(r.end <= begin || end <= r.begin, "state: expected memory of its own, got an array that "
                     "overlaps ", r.list(), "[", r.index(), "]");
  }
  check_o2nc_overlaps(ranges);
  return call;
}

}  // namespace

namespace dispatch {
void o2nc_raise_nonfinite(std::size_t tensor, std::int64_t element, double value) {
  throw Error(detail::concat("grads[", tensor, "]: non-finite gradient ", value, " at element ", element,
                             "; no tensor was updated (nan_policy=\"skip\" skips such a step instead of raising)"));
}
}  // namespace dispatch

O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                       const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options) {
  const CheckedCall call = check_o2nc_call(params, grads, buffers, groups, options, nullptr);
  return dispatch::kernel(&Kernels::o2nc_update, call.device, "o2nc_update")(call.tensors, groups, options,
                                                                            call.device.index);
}

void check_o2nc_hyper(const O2ncHyper& hyper) { front_end::o2nc_check_hyper(hyper, 0, 1); }

O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                       const std::vector<ArrayView>& buffers, const O2ncHyper& hyper, const O2ncOptions& options) {
  return o2nc_update(params, grads, buffers, {O2ncGroup{static_cast<std::int64_t>(params.size()), hyper}},
                     options);
}

void o2nc_update_device(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                        const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, const ArrayView& state) {
  const CheckedCall call = check_o2nc_call(params, grads, buffers, groups, options, &state);
  dispatch::kernel(&Kernels::o2nc_update_device, call.device, "o2nc_update_device")(
      call.tensors, groups, options, state.ptr<O2ncDeviceState>(), call.device.index);
}

detail::O2ncScheduleRun detail::o2nc_cuda_schedule_on_cpu(const std::vector<ArrayView>& params,
                                                           const std::vector<ArrayView>& grads,
                                                           const std::vector<ArrayView>& buffers,
                                                           const std::vector<O2ncGroup>& groups,
                                                           const O2ncOptions& options, int max_slots, int max_groups) {
  const CheckedCall call = check_o2nc_call(params, grads, buffers, groups, options, nullptr);
  HOMOTOPT_CHECK(call.device.type == DeviceType::cpu, "params: expected CPU arrays");
  HOMOTOPT_CHECK(options.scale.has_value(), "s: expected a value");
  HOMOTOPT_CHECK(max_slots >= 1 && max_groups >= 1 && max_groups <= 255,
                 "max_slots, max_groups: expected values >= 1 (max_groups <= 255)");
  const O2ncPlan plan = o2nc_plan(call.tensors, groups, max_slots, max_groups);
  O2ncScheduleRun run;
  run.first_nonfinite = o2nc_run_plan_on_cpu(plan, *options.scale, options.check_finite, true);
  run.launches = std::max<std::int64_t>(static_cast<std::int64_t>(plan.batches.size()), 1);
  return run;
}

}  // namespace homotopt
