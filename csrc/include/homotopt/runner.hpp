// The whole-loop runner: R independent trials of Prog-PowerHP (or of a baseline) on a built-in
// problem, advanced together in native code (papers/prog_powerhp.md, Algorithm 1).
//
// Trial r draws everything from Philox addressed by (seed, stream, first_trial + r, t): its K samples (stream
// samples), its minibatch (stream minibatch: J row indices with replacement) or fresh inputs (stream
// inputs), and SLGH's directions (stream directions). So a trial's trajectory does not depend on the
// other trials, the thread count, or how the run is cut into advance() calls: any trial can be replayed
// alone, and a run can be advanced in chunks (for a progress bar) with the same result as one call.
//
// Each step t = 0 .. T-1 of Prog-PowerHP: N_t, sigma_t, alpha_t from the schedules; the fused
// estimator gives (m, s, u) over the K x J pairs; the step rule moves mu:
//   raw:  mu += alpha exp(log_scale) d     (the paper's literal step)
//   log:  mu += alpha N d                  (gradient of log F; the default)
//   unit: mu += alpha d / ||d||
// with d = u / s. Validation (the problem's held-out fitness) is evaluated at t = 0, after every
// eval_every steps, and after the last step; the best iterate by validation is kept (NaN never wins).
// Baselines on the same data, seeds and minibatches: GD (full batch), SGD, Adam (ascent on the mean
// fitness) and SLGH_r (zeroth order: x += lr mean_k[(f(x + s u_k) - f(x)) u_k] / s, s <- max(gamma s,
// s_min), s starting at sigma.start).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/schedule.hpp"

namespace homotopt {

enum class Method : int { powerhp = 0, gd = 1, sgd = 2, adam = 3, slgh = 4 };
enum class StepRule : int { raw = 0, log = 1, unit = 2 };
enum class ProblemKind : int { phase_retrieval = 0, two_layer_relu = 1, toy1d = 2 };

// Whether the iterate after step t (after t + 1 updates) is evaluated: every eval_every steps, and
// after the last of `steps`.
HOMOTOPT_HD inline bool evaluated_after(std::int64_t t, std::int64_t eval_every, std::int64_t steps) {
  return (t + 1) % eval_every == 0 || t + 1 == steps;
}

// Whether a validation value becomes the best so far: strictly larger, so a NaN never does (nor does a
// later iterate of equal value: the first one is kept).
HOMOTOPT_HD inline bool improves_best(double value, double best) { return value > best; }

// The multiplier c of the step mu += c d (d = u / s, the direction) for each rule.
HOMOTOPT_HD inline double step_multiplier(StepRule rule, double alpha, double power, double log_scale,
                                          double direction_norm) {
  switch (rule) {
    case StepRule::raw: return alpha * ::exp(log_scale);  // may underflow to 0: the literal step
    case StepRule::unit: return direction_norm > 0.0 ? alpha / direction_norm : 0.0;
    default: return alpha * power;
  }
}

// Views of a problem's data. With `batched`, every array has a leading axis of R instances (trial r
// uses instance r); otherwise all trials share one instance. All float arrays share one dtype, which
// is also the dtype of the iterates.
struct ProblemViews {
  ProblemKind kind = ProblemKind::phase_retrieval;
  bool batched = false;
  // phase retrieval: A (n, d), y (n,); x_true (d,) optional (for the metric).
  // two-layer ReLU: teacher (k, n) orthonormal rows; validation inputs val_x (m, n) and labels val_y (m,);
  //   test inputs test_x (q, n) and labels test_y (q,) (metric: mean squared error on the test set).
  // toy1d: val_x (m,) validation noise draws (empty: noise 0); x_true (1,) the global maximizer.
  ArrayView A, y, x_true, teacher, val_x, val_y, test_x, test_y;
  double noise = 0.0;  // toy1d: standard deviation of the data eps
};

struct RunConfig {
  Method method = Method::powerhp;
  std::int64_t steps = 0;          // T
  std::int64_t num_samples = 8;    // K (SLGH: directions)
  std::int64_t batch_size = 16;    // J (ignored by GD, which uses all rows)
  std::int64_t eval_every = 100;
  PowerSchedule power;
  SigmaSchedule sigma;
  LearningRate lr;
  StepRule step_rule = StepRule::log;
  std::uint64_t seed = 0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  double slgh_gamma = 0.95, slgh_sigma_min = 0.01;
  bool track_metric = true;        // also evaluate the problem's metric at every evaluation
  std::int64_t first_trial = 0;    // trial r of this run draws from Philox trial index first_trial + r
};

// Evaluations so far, row e at step steps[e]: value and metric are E x R, row-major.
struct RunHistory {
  std::vector<std::int64_t> steps;
  std::vector<double> power, sigma, value, metric;
};

class RunnerImpl;

class HOMOTOPT_API Runner {
 public:
  // mu0: (R, d) starting points in the problem's dtype (copied).
  Runner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0);
  ~Runner();
  Runner(Runner&&) noexcept;
  Runner& operator=(Runner&&) noexcept;

  // Runs the next min(steps, T - step()) steps of every trial (OpenMP over trials).
  void advance(std::int64_t steps);
  std::int64_t step() const;
  std::int64_t trials() const;
  std::int64_t dim() const;
  DType dtype() const;
  // Copies the state into caller arrays of the problem's dtype (mu, best_mu: (R, d)), float64
  // (best_value: (R,)) and int64 (best_step: (R,)). Empty views are skipped.
  void state(const ArrayView& mu, const ArrayView& best_mu, const ArrayView& best_value,
             const ArrayView& best_step) const;
  const RunHistory& history() const;

 private:
  std::unique_ptr<RunnerImpl> impl_;
};

}  // namespace homotopt
