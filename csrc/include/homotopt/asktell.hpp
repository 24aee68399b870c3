// Prog-PowerHP as an ask/tell optimizer (papers/prog_powerhp.md, Algorithm 1) for an objective the
// caller evaluates: the schedules, the Gaussian samples, the power-gradient reduction, the step rule,
// box bounds and the best iterate, for R independent runs in one object. Python's
// homotopt.ProgPowerHP binds this class; C++ programs (a simulation, a solver) use it directly.
//
// Each step:
//   ask(samples)                 writes w_rk = mu_r + sigma_t eps_rk, R x K x d (row-major), with eps_rk
//                                the Philox stream (seed, RandomStream::samples, trial r, step t): run 0
//                                draws the same noise as trial 0 of the built-in runner;
//   tell(values, grads, J)       values R x K x J and gradients R x K x J x d of the objective at the
//                                samples (on J data points each; J = 1 for a deterministic f);
//                                reduces them with PowerState and moves every mu_r by the step rule.
//
// Direction of optimization: `maximize = true` is the paper's ascent on a fitness f; with false the
// values are losses and the optimizer works on f = -loss (the gradients' sign is handled inside).
//
// Scale (scale_free): softmax(N f) depends on the units of f. With scale_free the power applied is
// N_t / s_t, s_t a running estimate (exponential average, weight `spread_decay` on the past) of the
// standard deviation of f over the K x J pairs of each run, so N means "weights exp(N z) on the
// standardized values z" whatever the objective's scale.
//
// Step rules (mu += c * direction, direction = the softmax(N f)-weighted mean gradient of f):
//   raw:  c = lr * exp(log_scale)  (the paper's literal step; underflows for large N |f|)
//   log:  c = lr * N_applied       (the gradient of log F; the step grows with N: a coupling)
//   unit: c = lr / ||direction||   (normalized)
//   mean: c = lr                   (step size independent of N; still in the units of grad f)
//   sigma: c = lr * sigma_t / ||direction||  (a step of lr sampling radii: free of N and of the scale
//                                  of f, and it shrinks with sigma, so the run converges as sigma -> 0;
//                                  the rule to pair with scale_free and sigma_to)
//
// Best iterate: report(r, value) records a validation value of mu_r (in the objective's own sense,
// so a loss when maximize = false); until the first report of run r, its best iterate is the best
// evaluated sample: the w_rk with the best mean over J of the values passed to tell.
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/macros.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/schedule.hpp"

namespace homotopt {

enum class AskTellStep : int { raw = 0, log = 1, unit = 2, mean = 3, sigma = 4 };
enum class Bounds : int {
  none = 0,
  clip = 1,     // samples and iterates are clipped to [lower, upper]
  reflect = 2,  // samples are reflected at the faces (period 2 (upper - lower)); iterates are clipped
};

struct AskTellConfig {
  std::int64_t dim = 1;          // d
  std::int64_t num_samples = 8;  // K
  std::int64_t runs = 1;         // R
  PowerSchedule power;
  SigmaSchedule sigma;
  LearningRate lr;
  AskTellStep step_rule = AskTellStep::log;
  bool maximize = true;
  bool scale_free = false;
  double spread_decay = 0.9;  // in [0, 1): weight of the past in the running spread
  std::uint64_t seed = 0;
  Bounds bounds = Bounds::none;
  std::vector<double> lower, upper;  // (d,) each when bounds != none
};

// A sigma schedule that decays geometrically from `start` to `end` over `steps` steps with floor 0
// (the converging end of a run: the samples collapse onto mu as the budget runs out).
HOMOTOPT_API SigmaSchedule sigma_to(double start, double end, std::int64_t steps);

// What one tell did to run r.
struct AskTellRunStats {
  double power = 0.0;       // N applied (N_t, or N_t / spread with scale_free)
  double spread = 1.0;      // the running spread s_t used (1 without scale_free)
  double log_scale = -kInf;
  double step_norm = 0.0;   // ||mu_{t+1} - mu_t|| before bounds
  std::int64_t count = 0;
  std::int64_t omitted = 0;
};

// The whole mutable state (state_dict / load_state_dict); vectors are R x d or R.
struct AskTellState {
  std::int64_t step = 0;
  std::int64_t evaluations = 0;  // (sample, data point) pairs told, over all runs
  std::vector<double> mu, best_mu, best_value, spread;
  std::vector<std::int64_t> best_step;
  std::vector<std::uint8_t> reported;  // per run: best comes from report() (1) or from tell (0)
};

class HOMOTOPT_API ProgPowerHP {
 public:
  // mu0: d numbers (every run starts there) or R x d.
  ProgPowerHP(const AskTellConfig& config, const double* mu0, std::int64_t mu0_count);

  // Writes the R x K x d samples of step t into `samples`.
  void ask(double* samples) const;
  // values: R x K x J; grads: R x K x J x d (both row-major). Moves every run, advances t.
  void tell(const double* values, const double* grads, std::int64_t batch,
            NanPolicy policy = NanPolicy::raise);
  // The two-pass form (autograd frameworks): weights() writes softmax(N f) per run (R x K x J, the
  // weights of the objective's values) and keeps each run's log_scale; the caller backpropagates
  // sum p * value and passes that gradient per sample, R x K x d, to tell_weighted().
  void weights(const double* values, std::int64_t batch, double* out, NanPolicy policy = NanPolicy::raise);
  void tell_weighted(const double* grads);
  // Records the validation value of the current mu_r; returns whether it is run r's best so far.
  bool report(std::int64_t run, double value);

  // The caller-held form (homotopt.ProgPowerHP on torch tensors, whose means stay on their device): the
  // caller keeps mu and best_mu (R x d) and does the d-sized arithmetic prescribed here; the object does
  // the rest (schedules, spreads, weights, the step rule, best values, counters) and its own mu and
  // best_mu are not kept current. Per step:
  //   samples       w_rk = bound(mu_r + sigma() eps_rk), eps_rk the normals ask() draws (Philox (seed,
  //                 samples stream, run r, step t) at offset k d), reflected or clipped as bound() does;
  //   weights_held  as weights(), and best[r] = k of run r's new best evaluated sample (the caller copies
  //                 w_rk into best_mu_r), or -1;
  //   the caller    forms d_r = sum_kj out_rkj grad_rkj in the ascent sense (minus the gradients when
  //                 maximize = false: they are loss gradients) and its norm;
  //   step_held     writes c_r per run, for mu_r = clip(mu_r + c_r d_r) by the caller; t advances.
  // report() works as ever; when it returns true, the caller copies mu_r into best_mu_r.
  void weights_held(const double* values, std::int64_t batch, double* out, std::int64_t* best,
                    NanPolicy policy = NanPolicy::raise);
  void step_held(const double* norms, double* factors);

  const AskTellConfig& config() const { return config_; }
  std::int64_t step() const { return state_.step; }
  std::int64_t evaluations() const { return state_.evaluations; }
  double power() const { return config_.power.at(state_.step); }
  double sigma() const { return config_.sigma.at(state_.step); }
  double lr() const { return config_.lr.at(state_.step); }
  const std::vector<double>& mu() const { return state_.mu; }            // R x d
  const std::vector<double>& best_mu() const { return state_.best_mu; }  // R x d
  // Per run, in the objective's own sense (a loss when minimizing); -inf/+inf before any.
  std::vector<double> best_value() const;
  const std::vector<AskTellRunStats>& last() const { return last_; }
  // R x d: the direction of the last tell, the softmax-weighted mean of the gradients as passed (so a
  // loss gradient when maximize = false); for tell_weighted, the sum over k of the grads passed.
  const std::vector<double>& last_direction() const { return last_direction_; }
  const AskTellState& state() const { return state_; }
  void load_state(const AskTellState& state);  // checks shapes and values

 private:
  double to_fitness(double v) const { return config_.maximize ? v : -v; }
  void bound(double* x, bool sample) const;
  // Updates run r's spread from its fitness values and returns the power to apply.
  double applied_power(std::int64_t run, const double* fitness, std::int64_t pairs);
  // The best evaluated sample k of run r from its values (objective's sense), recorded as the best value;
  // -1 when none beats it or the run has reports.
  std::int64_t best_sample(std::int64_t run, const double* values, std::int64_t batch);
  // softmax(N f) per run into out, each run's log_scale pending for the step (weights()' reduction).
  void weights_into(const double* values, std::int64_t batch, double* out, NanPolicy policy);
  // Calls reduce(r, fitness, N) for every run r with its K x J fitness values and applied power; when a
  // run throws (NaN under raise), the spread and the last stats are restored: a rejected call changes
  // nothing.
  template <class Reduce>
  void reduce_runs(const double* values, std::int64_t batch, Reduce&& reduce);
  // After a reduction: every run's best evaluated sample, and the evaluation counter.
  void record_evaluations(const double* values, std::int64_t batch);
  // The step's c for run r (step rule) from its direction's norm, recorded in last(); advances nothing.
  double step_factor(std::int64_t run, double norm, double log_scale);
  // mu_r += c d for direction d in the ascent sense; bounds; advances t.
  void move(const double* directions, const std::vector<double>& log_scales);

  std::int64_t pending_step_ = -1;  // weights() was called for this step
  std::vector<double> pending_log_scale_;

  AskTellConfig config_;
  AskTellState state_;
  std::vector<AskTellRunStats> last_;
  std::vector<double> last_direction_;
};

}  // namespace homotopt
