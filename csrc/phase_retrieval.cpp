// Front end of the phase-retrieval entry points (problems/phase_retrieval.hpp): every argument is checked
// here, once, then the arrays' device picks the backend (csrc/cpu or cuda/).
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "dtype_dispatch.hpp"
#include "front_end.hpp"
#include "homotopt/problems/phase_retrieval.hpp"

namespace homotopt {
using namespace front_end;
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

namespace {

// Every argument of the estimator, for a state of dim `dim`.
void check_estimator_inputs(std::int64_t dim, const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec) {
  const ProblemShape ps = check_phase_retrieval_data(A, y);
  check_same_dtype(mu, A, "mu", "A");
  check_same_device(mu, A, "mu", "A");
  check_vector(mu, ps.d, "mu", "(d,)");
  check_contiguous(mu, "mu");
  check_finite_host(mu, "mu");
  HOMOTOPT_CHECK(dim == ps.d, "state: expected a state of dim d = ", ps.d, ", got ", dim);
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
}

// The reduced state, before anything is merged or written. An overflowed N f follows lse.hpp's limit
// rule. The fitness of checked finite data is mathematically finite, so a state with no weight at all
// means the fitness itself overflowed to -inf at every pair.
void check_estimator_parts(const PowerState::Parts& parts) {
  HOMOTOPT_CHECK(parts.lse.m > -kInf || parts.lse.limit(), "A, y: the fitness is -inf for every pair (it "
                 "overflows float64 at these A, y and mu): no pair has a weight");
}

}  // namespace

void phase_retrieval_power_update(PowerState& state, const ArrayView& A, const ArrayView& y,
                                  const ArrayView& mu, const ArrayView& rows, const SampleSpec& spec) {
  check_estimator_inputs(state.dim(), A, y, mu, rows, spec);
  std::vector<double> u(static_cast<std::size_t>(A.shape[1]), 0.0);
  PowerState::Parts parts;
  dispatch::kernel(&Kernels::phase_retrieval_reduce, A.device, "phase_retrieval_power_gradient")(
      A, y, mu, rows, spec, parts, u.data());
  check_estimator_parts(parts);
  state.merge_parts(spec.power, parts, u.data());
}

PowerResultStats phase_retrieval_power_gradient(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                                const ArrayView& rows, const SampleSpec& spec,
                                                const ArrayView& direction, const ArrayView& gradient) {
  HOMOTOPT_CHECK(A.ndim == 2 && A.shape[1] >= 1, "A: expected shape (n, d), got ", A.shape_string());
  // A backend that writes the result where the arrays live (CUDA) takes the whole call when the outputs
  // are on A's device; otherwise the host state below.
  const auto one_shot = dispatch::optional_kernel(&Kernels::phase_retrieval_power_gradient, A.device,
                                                  "phase_retrieval_power_gradient");
  if (one_shot && direction.device == A.device && (gradient.empty_view() || gradient.device == A.device)) {
    check_estimator_inputs(A.shape[1], A, y, mu, rows, spec);
    check_result_output(direction, A.shape[1], "direction");
    if (!gradient.empty_view()) check_result_output(gradient, A.shape[1], "gradient");
    return one_shot(A, y, mu, rows, spec, &check_estimator_parts, direction, gradient);
  }
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
  dispatch::kernel(&Kernels::phase_retrieval_fitness, A.device, "phase_retrieval_fitness")(A, y, mu, out);
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

}  // namespace homotopt
