// homotopt::Runner: the edge checks of a run (configuration, problem data, starting points), then the
// backend's runner from the dispatch point: cpu/runner.cpp, or cuda/runner.cu for phase retrieval with A
// and y on a GPU.
#include <cmath>

#include "backend.hpp"
#include "dtype_dispatch.hpp"
#include "runner_impl.hpp"

namespace homotopt {
namespace {

void check_finite_range(double v, double lo, double hi, const char* name, const char* what) {
  HOMOTOPT_CHECK(std::isfinite(v) && v >= lo && v <= hi, name, ": expected ", what, ", got ", v);
}

void check_config(const RunConfig& c) {
  HOMOTOPT_CHECK(c.steps >= 1, "steps: expected T >= 1, got ", c.steps);
  HOMOTOPT_CHECK(c.num_samples >= 1, "num_samples: expected K >= 1, got ", c.num_samples);
  HOMOTOPT_CHECK(c.batch_size >= 1, "batch_size: expected J >= 1, got ", c.batch_size);
  HOMOTOPT_CHECK(c.eval_every >= 1, "eval_every: expected >= 1, got ", c.eval_every);
  check_schedule(c.power);
  check_schedule(c.sigma);
  check_schedule(c.lr);
  HOMOTOPT_CHECK(static_cast<int>(c.method) >= 0 && static_cast<int>(c.method) <= 4, "method: unknown method");
  HOMOTOPT_CHECK(static_cast<int>(c.step_rule) >= 0 && static_cast<int>(c.step_rule) <= 2, "step_rule: unknown rule");
  check_finite_range(c.adam_beta1, 0.0, 0.999999999, "beta1", "0 <= beta1 < 1");
  check_finite_range(c.adam_beta2, 0.0, 0.999999999, "beta2", "0 <= beta2 < 1");
  HOMOTOPT_CHECK(std::isfinite(c.adam_eps) && c.adam_eps > 0.0, "eps: expected a finite eps > 0, got ", c.adam_eps);
  HOMOTOPT_CHECK(std::isfinite(c.slgh_gamma) && c.slgh_gamma > 0.0 && c.slgh_gamma <= 1.0,
                 "slgh gamma: expected 0 < gamma <= 1, got ", c.slgh_gamma);
  check_finite_range(c.slgh_sigma_min, 0.0, 1e300, "sigma_min", "a finite sigma_min >= 0");
}

// Checks that v has shape (R?, sizes...) in dtype `dtype`, contiguous, on `device`.
void check_data(const ArrayView& v, const char* name, DType dtype, bool batched, std::int64_t R,
                std::initializer_list<std::int64_t> sizes, Device device = Device{}) {
  HOMOTOPT_CHECK(!v.empty_view(), name, ": missing");
  check_dtype(v, dtype, name);
  check_contiguous(v, name);
  HOMOTOPT_CHECK(v.device == device, name, ": expected an array on ", device_name(device), ", got one on ",
                 device_name(v.device));
  const int lead = batched ? 1 : 0;
  bool ok = v.ndim == lead + static_cast<int>(sizes.size()) && (!batched || v.shape[0] == R);
  int i = lead;
  for (std::int64_t want : sizes) {
    if (ok) ok = want < 0 ? v.shape[i] >= 1 : v.shape[i] == want;
    ++i;
  }
  HOMOTOPT_CHECK(ok, name, ": unexpected shape ", v.shape_string(), batched ? " (expected a leading axis of R = " : "",
                 batched ? std::to_string(R) + " instances)" : std::string());
}

std::int64_t check_problem(const ProblemViews& p, DType dtype, std::int64_t R) {
  const int lead = p.batched ? 1 : 0;
  switch (p.kind) {
    case ProblemKind::phase_retrieval: {
      check_data(p.A, "A", dtype, p.batched, R, {-1, -1}, p.A.device);  // A and y may live on a GPU
      const std::int64_t n = p.A.shape[lead], d = p.A.shape[lead + 1];
      check_data(p.y, "y", dtype, p.batched, R, {n}, p.A.device);
      if (!p.x_true.empty_view()) check_data(p.x_true, "x_true", DType::float64, p.batched, R, {d});
      return d;
    }
    case ProblemKind::two_layer_relu: {
      check_data(p.teacher, "teacher", dtype, p.batched, R, {-1, -1});
      const std::int64_t k = p.teacher.shape[lead], n = p.teacher.shape[lead + 1];
      HOMOTOPT_CHECK(k <= 256, "k: expected at most 256 hidden units, got ", k);
      check_data(p.val_x, "validation inputs", dtype, p.batched, R, {-1, n});
      check_data(p.val_y, "validation labels", dtype, p.batched, R, {p.val_x.shape[lead]});
      check_data(p.test_x, "test inputs", dtype, p.batched, R, {-1, n});
      check_data(p.test_y, "test labels", dtype, p.batched, R, {p.test_x.shape[lead]});
      return k * n;
    }
    case ProblemKind::toy1d:
      HOMOTOPT_CHECK(dtype == DType::float64, "mu0: the 1-D example runs in float64");
      HOMOTOPT_CHECK(std::isfinite(p.noise) && p.noise >= 0.0, "noise: expected a finite value >= 0, got ", p.noise);
      check_data(p.x_true, "w_star", DType::float64, false, R, {1});
      if (!p.val_x.empty_view()) check_data(p.val_x, "validation noise", DType::float64, false, R, {-1});
      return 1;
  }
  HOMOTOPT_CHECK(false, "problem: unknown kind");
  return 0;
}

}  // namespace

Runner::Runner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0) {
  check_config(config);
  check_float(mu0, "mu0");
  HOMOTOPT_CHECK(mu0.ndim == 2 && mu0.shape[0] >= 1 && mu0.shape[1] >= 1, "mu0: expected shape (R, d), got ",
                 mu0.shape_string());
  check_contiguous(mu0, "mu0");
  HOMOTOPT_CHECK(mu0.device.type == DeviceType::cpu, "mu0: expected a CPU array (the runner runs on the CPU)");
  const std::int64_t R = mu0.shape[0];
  const std::int64_t d = check_problem(problem, mu0.dtype, R);
  HOMOTOPT_CHECK(mu0.shape[1] == d, "mu0: expected d = ", d, " (the problem's dimension), got ", mu0.shape[1]);
  HOMOTOPT_CHECK(config.first_trial >= 0 && config.first_trial + R <= (std::int64_t{1} << 32),
                 "first_trial: expected 0 <= first_trial and first_trial + trials <= 2^32 (a Philox counter "
                 "word), got first_trial = ", config.first_trial, " with ", R, " trials");
  HOMOTOPT_CHECK(config.steps <= (std::int64_t{1} << 32), "steps: expected at most 2^32 (a Philox counter word), got ",
                 config.steps);
  visit_float(mu0.dtype, [&](auto t) {
    const auto* m = mu0.ptr<const decltype(t)>();
    for (std::int64_t i = 0; i < R * d; ++i)
      HOMOTOPT_CHECK(std::isfinite(static_cast<double>(m[i])), "mu0: expected finite values, got ",
                     static_cast<double>(m[i]), " at flat index ", i);
  });
  // The problem data's device picks the backend (only phase retrieval's A and y may live on a GPU).
  const Device device = problem.kind == ProblemKind::phase_retrieval ? problem.A.device : Device{};
  impl_ = dispatch::kernel(&Kernels::make_runner, device, "A")(problem, config, mu0);
}

Runner::~Runner() = default;
Runner::Runner(Runner&&) noexcept = default;
Runner& Runner::operator=(Runner&&) noexcept = default;

void Runner::advance(std::int64_t steps) {
  HOMOTOPT_CHECK(steps >= 0, "steps: expected >= 0, got ", steps);
  impl_->advance(steps);
}
std::int64_t Runner::step() const { return impl_->t; }
std::int64_t Runner::trials() const { return impl_->trials; }
std::int64_t Runner::dim() const { return impl_->dim; }
DType Runner::dtype() const { return impl_->dtype; }
const RunHistory& Runner::history() const { return impl_->history; }

void Runner::state(const ArrayView& mu, const ArrayView& best_mu, const ArrayView& best_value,
                   const ArrayView& best_step) const {
  auto check = [&](const ArrayView& v, const char* name, DType dtype, std::int64_t cols) {
    if (v.empty_view()) return;
    check_dtype(v, dtype, name);
    check_contiguous(v, name);
    check_writable(v, name);
    HOMOTOPT_CHECK(v.numel() == impl_->trials * cols, name, ": expected ", impl_->trials * cols, " elements, got ",
                   v.numel());
  };
  check(mu, "mu", impl_->dtype, impl_->dim);
  check(best_mu, "best_mu", impl_->dtype, impl_->dim);
  check(best_value, "best_value", DType::float64, 1);
  check(best_step, "best_step", DType::int64, 1);
  impl_->state(mu, best_mu, best_value, best_step);
}

}  // namespace homotopt
