// THE dispatch point: every public entry point checks its inputs here, once, and the arrays' device
// picks the backend (csrc/cpu or cuda/). A CUDA array in a CPU-only build is a clear error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backend.hpp"
#include "dtype_dispatch.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/random.hpp"

namespace homotopt {
namespace {

bool on_cuda(const ArrayView& v) { return v.device.type == DeviceType::cuda; }

[[noreturn]] void cuda_unavailable(const char* op) {
#if defined(HOMOTOPT_WITH_CUDA)
  throw Error(detail::concat(op, ": CUDA arrays are not supported by this operation yet; pass CPU arrays"));
#else
  throw Error(detail::concat(op, ": homotopt was built without CUDA; pass CPU (NumPy) arrays or rebuild "
                                 "with a CUDA compiler (CMake option HOMOTOPT_CUDA=ON)"));
#endif
}

void check_power(double power) {
  HOMOTOPT_CHECK(std::isfinite(power) && power >= 0.0, "power: expected a finite N >= 0, got ", power);
}

void check_nonempty(const ArrayView& v, const char* name, const char* what) {
  for (int i = 0; i < v.ndim; ++i)
    HOMOTOPT_CHECK(v.shape[i] >= 1, name, ": expected shape ", what, " with every size >= 1, got ",
                   v.shape_string());
}

void check_vector(const ArrayView& v, std::int64_t n, const char* name, const char* what) {
  HOMOTOPT_CHECK(v.ndim == 1 && v.shape[0] == n, name, ": expected shape ", what, " = (", n, ",), got ",
                 v.shape_string());
}

}  // namespace

namespace dispatch {

PairShape check_power_inputs(const ArrayView& values, const ArrayView& grads, double power) {
  check_power(power);
  check_float(values, "values");
  check_same_dtype(grads, values, "grads", "values");
  check_same_device(grads, values, "grads", "values");
  check_ndim(values, {1, 2}, "values", "(K,) or (K, J)");
  check_nonempty(values, "values", values.ndim == 1 ? "(K,)" : "(K, J)");
  const std::int64_t K = values.shape[0];
  const std::int64_t J = values.ndim == 2 ? values.shape[1] : 1;
  if (values.ndim == 1) {
    HOMOTOPT_CHECK(grads.ndim == 2 && grads.shape[0] == K, "grads: expected shape (K, d) with K = ", K,
                   " (from values), got ", grads.shape_string());
  } else {
    HOMOTOPT_CHECK(grads.ndim == 3 && grads.shape[0] == K && grads.shape[1] == J,
                   "grads: expected shape (K, J, d) with (K, J) = (", K, ", ", J, ") (from values), got ",
                   grads.shape_string());
  }
  const std::int64_t d = grads.shape[grads.ndim - 1];
  HOMOTOPT_CHECK(d >= 1, "grads: expected d >= 1, got ", grads.shape_string());
  check_contiguous(values, "values");
  check_contiguous(grads, "grads");
  return {K * J, J, d};
}

void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u) {
  if (on_cuda(values)) {
#if defined(HOMOTOPT_WITH_CUDA)
    cuda::reduce_power(values, grads, shape, power, policy, parts, u);
    return;
#else
    cuda_unavailable("power_gradient");
#endif
  }
  cpu::reduce_power(values, grads, shape, power, policy, parts, u);
}

void check_result_output(const ArrayView& out, std::int64_t d, const char* name) {
  check_float(out, name);
#if !defined(HOMOTOPT_WITH_CUDA)
  if (on_cuda(out)) cuda_unavailable(name);
#endif
  check_vector(out, d, name, "(d,)");
  check_contiguous(out, name);
  check_writable(out, name);
}

}  // namespace dispatch

PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                const ArrayView& weights) {
  check_power(power);
  check_float(values, "values");
  check_ndim(values, {1, 2}, "values", "(K,) or (K, J)");
  check_nonempty(values, "values", values.ndim == 1 ? "(K,)" : "(K, J)");
  check_contiguous(values, "values");
  check_same_dtype(weights, values, "weights", "values");
  check_same_device(weights, values, "weights", "values");
  HOMOTOPT_CHECK(weights.ndim == values.ndim && weights.numel() == values.numel(),
                 "weights: expected shape ", values.shape_string(), " (the shape of values), got ",
                 weights.shape_string());
  check_contiguous(weights, "weights");
  check_writable(weights, "weights");
  if (on_cuda(values)) cuda_unavailable("power_weights");
  return cpu::power_weights(values, power, policy, weights);
}

// ---- phase retrieval -----------------------------------------------------------------------------------
namespace {

struct ProblemShape {
  std::int64_t n, d;
};

ProblemShape check_phase_retrieval_data(const ArrayView& A, const ArrayView& y) {
  check_float(A, "A");
  HOMOTOPT_CHECK(A.ndim == 2, "A: expected shape (n, d), got ", A.shape_string());
  check_nonempty(A, "A", "(n, d)");
  check_contiguous(A, "A");
  check_same_dtype(y, A, "y", "A");
  check_same_device(y, A, "y", "A");
  check_vector(y, A.shape[0], "y", "(n,)");
  check_contiguous(y, "y");
  return {A.shape[0], A.shape[1]};
}

void check_finite_host(const ArrayView& v, const char* name) {
  if (on_cuda(v)) return;
  visit_float(v.dtype, [&](auto t) {
    const auto* p = v.ptr<const decltype(t)>();
    for (std::int64_t i = 0; i < v.numel(); ++i)
      HOMOTOPT_CHECK(std::isfinite(static_cast<double>(p[i])), name, ": expected finite values, got ",
                     static_cast<double>(p[i]), " at index ", i);
  });
}

}  // namespace

void phase_retrieval_power_update(PowerState& state, const ArrayView& A, const ArrayView& y,
                                  const ArrayView& mu, const ArrayView& rows, const SampleSpec& spec) {
  const ProblemShape ps = check_phase_retrieval_data(A, y);
  check_same_dtype(mu, A, "mu", "A");
  check_same_device(mu, A, "mu", "A");
  check_vector(mu, ps.d, "mu", "(d,)");
  check_contiguous(mu, "mu");
  check_finite_host(mu, "mu");
  HOMOTOPT_CHECK(state.dim() == ps.d, "state: expected a state of dim d = ", ps.d, ", got ", state.dim());
  HOMOTOPT_CHECK(spec.num_samples >= 1 && spec.num_samples <= (std::int64_t{1} << 31),
                 "num_samples: expected 1 <= K <= 2^31, got ", spec.num_samples);
  HOMOTOPT_CHECK(std::isfinite(spec.sigma) && spec.sigma > 0.0, "sigma: expected a finite sigma > 0, got ",
                 spec.sigma);
  check_power(spec.power);
  if (!rows.empty_view()) {
    check_dtype(rows, DType::int64, "rows");
    check_same_device(rows, A, "rows", "A");
    HOMOTOPT_CHECK(rows.ndim == 1 && rows.shape[0] >= 1, "rows: expected shape (J,) with J >= 1, got ",
                   rows.shape_string());
    check_contiguous(rows, "rows");
    if (!on_cuda(rows)) {
      const std::int64_t* r = rows.ptr<const std::int64_t>();
      for (std::int64_t j = 0; j < rows.shape[0]; ++j)
        HOMOTOPT_CHECK(r[j] >= 0 && r[j] < ps.n, "rows: expected row indices in [0, n) = [0, ", ps.n,
                       "), got ", r[j], " at position ", j);
    }
  }
  std::vector<double> u(static_cast<std::size_t>(ps.d), 0.0);
  PowerState::Parts parts;
  if (on_cuda(A)) {
#if defined(HOMOTOPT_WITH_CUDA)
    cuda::phase_retrieval_reduce(A, y, mu, rows, spec, parts, u.data());
#else
    cuda_unavailable("phase_retrieval_power_gradient");
#endif
  } else {
    cpu::phase_retrieval_reduce(A, y, mu, rows, spec, parts, u.data());
  }
  state.merge_parts(spec.power, parts, u.data());
}

PowerResultStats phase_retrieval_power_gradient(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                                const ArrayView& rows, const SampleSpec& spec,
                                                const ArrayView& direction, const ArrayView& gradient) {
  HOMOTOPT_CHECK(A.ndim == 2 && A.shape[1] >= 1, "A: expected shape (n, d), got ", A.shape_string());
  PowerState state(A.shape[1]);
  phase_retrieval_power_update(state, A, y, mu, rows, spec);
  return state.result(direction, gradient);
}

void phase_retrieval_fitness(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                             const ArrayView& out) {
  const ProblemShape ps = check_phase_retrieval_data(A, y);
  check_same_dtype(mu, A, "mu", "A");
  check_same_device(mu, A, "mu", "A");
  HOMOTOPT_CHECK((mu.ndim == 1 || mu.ndim == 2) && mu.shape[mu.ndim - 1] == ps.d && mu.numel() >= 1,
                 "mu: expected shape (d,) or (R, d) with d = ", ps.d, ", got ", mu.shape_string());
  check_contiguous(mu, "mu");
  const std::int64_t R = mu.ndim == 2 ? mu.shape[0] : 1;
  check_dtype(out, DType::float64, "out");
  check_vector(out, R, "out", "(R,)");
  check_contiguous(out, "out");
  check_writable(out, "out");
  if (on_cuda(A)) cuda_unavailable("phase_retrieval_fitness");
  cpu::phase_retrieval_fitness(A, y, mu, out);
}

void phase_retrieval_metric(const ArrayView& x_true, const ArrayView& mu, const ArrayView& out) {
  check_dtype(x_true, DType::float64, "x_true");
  HOMOTOPT_CHECK(x_true.ndim == 1 && x_true.shape[0] >= 1, "x_true: expected shape (d,), got ",
                 x_true.shape_string());
  check_contiguous(x_true, "x_true");
  const std::int64_t d = x_true.shape[0];
  check_float(mu, "mu");
  HOMOTOPT_CHECK((mu.ndim == 1 || mu.ndim == 2) && mu.shape[mu.ndim - 1] == d && mu.numel() >= 1,
                 "mu: expected shape (d,) or (R, d) with d = ", d, ", got ", mu.shape_string());
  check_contiguous(mu, "mu");
  const std::int64_t R = mu.ndim == 2 ? mu.shape[0] : 1;
  check_dtype(out, DType::float64, "out");
  check_vector(out, R, "out", "(R,)");
  check_writable(out, "out");
  HOMOTOPT_CHECK(!on_cuda(x_true) && !on_cuda(mu), "phase_retrieval_metric: expected CPU arrays");
  visit_float(mu.dtype, [&](auto t) {
    using T = decltype(t);
    for (std::int64_t r = 0; r < R; ++r)
      out.ptr<double>()[r] = homotopt::phase_retrieval_metric(mu.ptr<const T>() + r * d, x_true.ptr<const double>(), d);
  });
}

// ---- random ----------------------------------------------------------------------------------------------
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key, std::uint64_t offset) {
  check_float(out, "out");
  check_contiguous(out, "out");
  check_writable(out, "out");
  if (out.numel() == 0) return;
  if (on_cuda(out)) {
#if defined(HOMOTOPT_WITH_CUDA)
    cuda::random_fill(out, distribution, key, offset);
    return;
#else
    cuda_unavailable("random_fill");
#endif
  }
  cpu::random_fill(out, distribution, key, offset);
}

void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset) {
  check_dtype(out, DType::int64, "out");
  check_contiguous(out, "out");
  check_writable(out, "out");
  HOMOTOPT_CHECK(n >= 1 && n <= (std::uint64_t{1} << 32), "n: expected 1 <= n <= 2^32, got ", n);
  if (on_cuda(out)) cuda_unavailable("random_indices");
  cpu::random_indices(out, n, key, offset);
}

// ---- O2NC ---------------------------------------------------------------------------------------------
// Everything is checked before any element is touched: list lengths, hyper-parameters, each triple's
// dtype, shape, device, layout and writability, memory overlaps, then (optionally) the grads' values.
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

std::size_t item_size(DType t) { return t == DType::float32 || t == DType::int32 ? 4 : 8; }

bool same_shape(const ArrayView& a, const ArrayView& b) {
  if (a.ndim != b.ndim) return false;
  for (int k = 0; k < a.ndim; ++k)
    if (a.shape[k] != b.shape[k]) return false;
  return true;
}

void check_o2nc_hyper(const O2ncHyper& h, std::size_t group, std::size_t groups) {
  const std::string where = groups > 1 ? detail::concat(" (param group ", group, ")") : std::string();
  HOMOTOPT_CHECK(std::isfinite(h.lr) && h.lr >= 0.0, "lr: expected a finite value >= 0, got ", h.lr, where);
  HOMOTOPT_CHECK(h.beta > 0.0 && h.beta <= 1.0, "beta: expected a value in (0, 1], got ", h.beta, where);
  HOMOTOPT_CHECK(std::isfinite(h.mu) && h.mu >= 0.0, "mu: expected a finite value >= 0, got ", h.mu, where);
  HOMOTOPT_CHECK(std::isfinite(h.weight_decay) && h.weight_decay >= 0.0,
                 "weight_decay: expected a finite value >= 0, got ", h.weight_decay, where);
}

// One triple: dtypes, devices, shapes, layout and writability. Returns its element count.
std::int64_t check_o2nc_triple(const ArrayView& x, const ArrayView& g, const ArrayView& D, std::size_t i,
                               const Device& device) {
  HOMOTOPT_CHECK_TYPE(x.dtype == DType::float32 || x.dtype == DType::float64, "params[", i,
                      "]: expected dtype float32 or float64, got ", dtype_name(x.dtype));
  HOMOTOPT_CHECK_TYPE(g.dtype == x.dtype, "grads[", i, "]: expected dtype ", dtype_name(x.dtype),
                      " (the dtype of params[", i, "]), got ", dtype_name(g.dtype));
  HOMOTOPT_CHECK_TYPE(D.dtype == x.dtype, "buffers[", i, "]: expected dtype ", dtype_name(x.dtype),
                      " (the dtype of params[", i, "]), got ", dtype_name(D.dtype));
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

}  // namespace

O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                       const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options) {
  const std::size_t n = params.size();
  HOMOTOPT_CHECK(n < (std::size_t{1} << 30), "params: expected fewer than 2^30 arrays, got ", n);
  HOMOTOPT_CHECK(grads.size() == n, "grads: expected ", n, " arrays (one per param), got ", grads.size());
  HOMOTOPT_CHECK(buffers.size() == n, "buffers: expected ", n, " arrays (one per param), got ", buffers.size());
  std::int64_t grouped = 0;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    HOMOTOPT_CHECK(groups[k].size >= 0, "groups: expected sizes >= 0, got ", groups[k].size, " for group ", k);
    check_o2nc_hyper(groups[k].hyper, k, groups.size());
    grouped += groups[k].size;
  }
  HOMOTOPT_CHECK(grouped == static_cast<std::int64_t>(n), "groups: expected sizes that add up to ", n,
                 " (the number of params), got ", grouped);
  HOMOTOPT_CHECK(!options.scale || (std::isfinite(*options.scale) && *options.scale >= 0.0),
                 "s: expected a finite value >= 0, got ", options.scale.value_or(0.0));
  HOMOTOPT_CHECK(static_cast<int>(options.scaling) >= 0 && static_cast<int>(options.scaling) <= 2,
                 "scaling: expected exponential, uniform or none, got ", static_cast<int>(options.scaling));

  std::vector<O2ncTensor> tensors;
  std::vector<MemoryRange> ranges;
  tensors.reserve(n);
  ranges.reserve(3 * n);
  std::int64_t total = 0;
  std::int32_t group = 0;
  std::int64_t group_end = groups.empty() ? 0 : groups[0].size;
  for (std::size_t i = 0; i < n; ++i) {
    while (static_cast<std::int64_t>(i) >= group_end) group_end += groups[static_cast<std::size_t>(++group)].size;
    const ArrayView &x = params[i], &g = grads[i], &D = buffers[i];
    const std::int64_t count = check_o2nc_triple(x, g, D, i, params[0].device);
    total += count;
    tensors.push_back({x.data, g.data, D.data, count, x.dtype, group});
    if (count == 0) continue;
    const std::uintptr_t bytes = static_cast<std::uintptr_t>(count) * item_size(x.dtype);
    const ArrayView* views[3] = {&x, &g, &D};
    for (std::uint32_t k = 0; k < 3; ++k) {
      const auto begin = reinterpret_cast<std::uintptr_t>(views[k]->data);
      ranges.push_back({begin, begin + bytes, static_cast<std::uint32_t>(3 * i) + k});
    }
  }
  check_o2nc_overlaps(ranges);
  if (n > 0 && on_cuda(params[0])) cuda_unavailable("o2nc_update");

  O2ncResult result;
  result.scale = options.scale ? *options.scale : o2nc_scale(options.seed, options.step, options.scaling);
  if (options.check_finite) {
    const cpu::O2ncPosition bad = cpu::o2nc_first_nonfinite(tensors, total);
    if (bad.tensor >= 0) {
      HOMOTOPT_CHECK(options.nan_policy == O2ncNanPolicy::skip, "grads[", bad.tensor, "]: non-finite gradient ",
                     bad.value, " at element ", bad.element,
                     "; no tensor was updated (nan_policy=\"skip\" skips such a step instead of raising)");
      result.found_inf = true;
      return result;
    }
  }
  if (total > 0) cpu::o2nc_update(tensors, total, groups, result.scale);
  return result;
}

O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                       const std::vector<ArrayView>& buffers, const O2ncHyper& hyper, const O2ncOptions& options) {
  return o2nc_update(params, grads, buffers, {O2ncGroup{static_cast<std::int64_t>(params.size()), hyper}},
                     options);
}

}  // namespace homotopt
