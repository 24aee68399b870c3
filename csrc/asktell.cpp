// ProgPowerHP (asktell.hpp): the ask/tell optimizer around the power-gradient reduction. Arguments are
// checked here, once; the reduction is PowerState's and the noise random_fill's.
#include "homotopt/asktell.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "homotopt/array.hpp"
#include "homotopt/error.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/random.hpp"
#include "homotopt/runner.hpp"

namespace homotopt {
namespace {

double reflect(double x, double lo, double hi) {
  const double w = hi - lo;
  if (!(w > 0.0)) return lo;
  double y = std::fmod(x - lo, 2.0 * w);
  if (y < 0.0) y += 2.0 * w;
  return lo + (y <= w ? y : 2.0 * w - y);
}

void check_config(const AskTellConfig& c) {
  HOMOTOPT_CHECK(c.dim >= 1, "dim: expected d >= 1, got ", c.dim);
  HOMOTOPT_CHECK(c.num_samples >= 1, "num_samples: expected K >= 1, got ", c.num_samples);
  HOMOTOPT_CHECK(c.runs >= 1 && c.runs <= std::numeric_limits<std::uint32_t>::max(),
                 "runs: expected 1 <= R < 2^32, got ", c.runs);
  HOMOTOPT_CHECK(std::isfinite(c.power.start) && c.power.start >= 0.0 && std::isfinite(c.power.increment) &&
                     c.power.increment >= 0.0 && c.power.every >= 1 && !(c.power.max < 0.0),
                 "power: expected start, increment >= 0 (finite), every >= 1 and max >= 0, got start ",
                 c.power.start, ", increment ", c.power.increment, ", every ", c.power.every, ", max ", c.power.max);
  HOMOTOPT_CHECK(std::isfinite(c.sigma.start) && c.sigma.start >= 0.0 && std::isfinite(c.sigma.decay) &&
                     c.sigma.decay > 0.0 && std::isfinite(c.sigma.floor) && c.sigma.floor >= 0.0,
                 "sigma: expected start >= 0, decay > 0 and floor >= 0 (finite), got start ", c.sigma.start,
                 ", decay ", c.sigma.decay, ", floor ", c.sigma.floor);
  HOMOTOPT_CHECK(std::isfinite(c.lr.base) && c.lr.base >= 0.0 && std::isfinite(c.lr.gamma) &&
                     std::isfinite(c.lr.offset) && c.lr.offset > 0.0,
                 "lr: expected base >= 0, finite gamma and offset > 0, got base ", c.lr.base, ", gamma ",
                 c.lr.gamma, ", offset ", c.lr.offset);
  const int rule = static_cast<int>(c.step_rule);
  HOMOTOPT_CHECK(rule >= 0 && rule <= 4, "step_rule: expected raw, log, unit, mean or sigma (0..4), got ", rule);
  HOMOTOPT_CHECK(c.spread_decay >= 0.0 && c.spread_decay < 1.0, "spread_decay: expected 0 <= value < 1, got ",
                 c.spread_decay);
  const int b = static_cast<int>(c.bounds);
  HOMOTOPT_CHECK(b >= 0 && b <= 2, "bounds: expected none, clip or reflect (0..2), got ", b);
  if (c.bounds == Bounds::none) return;
  HOMOTOPT_CHECK(static_cast<std::int64_t>(c.lower.size()) == c.dim &&
                     static_cast<std::int64_t>(c.upper.size()) == c.dim,
                 "lower, upper: expected d = ", c.dim, " entries each, got ", c.lower.size(), " and ",
                 c.upper.size());
  for (std::int64_t i = 0; i < c.dim; ++i) {
    HOMOTOPT_CHECK(std::isfinite(c.lower[i]) && std::isfinite(c.upper[i]) && c.lower[i] < c.upper[i],
                   "lower, upper: expected finite lower < upper, got [", c.lower[i], ", ", c.upper[i],
                   "] at index ", i);
  }
}

}  // namespace

SigmaSchedule sigma_to(double start, double end, std::int64_t steps) {
  HOMOTOPT_CHECK(std::isfinite(start) && start > 0.0 && std::isfinite(end) && end > 0.0,
                 "start, end: expected finite values > 0, got ", start, ", ", end);
  HOMOTOPT_CHECK(steps >= 1, "steps: expected >= 1, got ", steps);
  return SigmaSchedule{start, std::pow(end / start, 1.0 / static_cast<double>(steps)), 0.0};
}

ProgPowerHP::ProgPowerHP(const AskTellConfig& config, const double* mu0, std::int64_t mu0_count)
    : config_(config) {
  check_config(config_);
  const std::int64_t R = config_.runs, d = config_.dim;
  HOMOTOPT_CHECK(mu0 != nullptr && (mu0_count == d || mu0_count == R * d), "mu0: expected d = ", d,
                 " or R x d = ", R * d, " numbers, got ", mu0_count);
  state_.mu.resize(static_cast<std::size_t>(R * d));
  for (std::int64_t i = 0; i < R * d; ++i) {
    const double v = mu0[mu0_count == d ? i % d : i];
    HOMOTOPT_CHECK(std::isfinite(v), "mu0: expected finite values, got ", v, " at index ", i);
    state_.mu[i] = v;
  }
  for (std::int64_t r = 0; r < R; ++r) bound(state_.mu.data() + r * d, false);
  state_.best_mu = state_.mu;
  state_.best_value.assign(static_cast<std::size_t>(R), -kInf);  // in the fitness sense
  state_.spread.assign(static_cast<std::size_t>(R), 0.0);        // 0: no estimate yet
  state_.best_step.assign(static_cast<std::size_t>(R), -1);
  state_.reported.assign(static_cast<std::size_t>(R), 0);
  last_.assign(static_cast<std::size_t>(R), AskTellRunStats{});
  last_direction_.assign(static_cast<std::size_t>(R * d), 0.0);
}

void ProgPowerHP::bound(double* x, bool sample) const {
  if (config_.bounds == Bounds::none) return;
  for (std::int64_t i = 0; i < config_.dim; ++i) {
    const double lo = config_.lower[i], hi = config_.upper[i];
    x[i] = (sample && config_.bounds == Bounds::reflect) ? reflect(x[i], lo, hi) : std::clamp(x[i], lo, hi);
  }
}

void ProgPowerHP::ask(double* samples) const {
  HOMOTOPT_CHECK(samples != nullptr, "samples: expected a buffer of R x K x d doubles, got null");
  const std::int64_t R = config_.runs, K = config_.num_samples, d = config_.dim;
  const double s = sigma();
  for (std::int64_t r = 0; r < R; ++r) {
    double* out = samples + r * K * d;
    const RandomKey key{config_.seed, static_cast<std::uint32_t>(RandomStream::samples),
                        static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(state_.step)};
    random_fill(make_view(out, {K, d}), Distribution::normal, key);
    for (std::int64_t k = 0; k < K; ++k) {
      double* w = out + k * d;
      for (std::int64_t i = 0; i < d; ++i) w[i] = state_.mu[r * d + i] + s * w[i];
      bound(w, true);
    }
  }
}

double ProgPowerHP::applied_power(std::int64_t r, const double* fitness, std::int64_t pairs) {
  const double N = power();
  AskTellRunStats& st = last_[r];
  st = AskTellRunStats{};
  if (!config_.scale_free) {
    st.power = N;
    return N;
  }
  double sum = 0.0, sum2 = 0.0;
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < pairs; ++i) {
    if (std::isfinite(fitness[i])) {
      sum += fitness[i];
      ++n;
    }
  }
  const double mean = n ? sum / static_cast<double>(n) : 0.0;
  for (std::int64_t i = 0; i < pairs; ++i) {
    if (std::isfinite(fitness[i])) sum2 += (fitness[i] - mean) * (fitness[i] - mean);
  }
  const double sd = n > 1 ? std::sqrt(sum2 / static_cast<double>(n - 1)) : 0.0;
  double& s = state_.spread[r];
  if (sd > 0.0 && std::isfinite(sd)) s = s > 0.0 ? config_.spread_decay * s + (1.0 - config_.spread_decay) * sd : sd;
  st.spread = s > 0.0 ? s : 1.0;  // no spread seen yet: unit scale
  st.power = N / st.spread;
  return st.power;
}

std::int64_t ProgPowerHP::best_sample(std::int64_t r, const double* values, std::int64_t J) {
  if (state_.reported[r]) return -1;
  std::int64_t best = -1;
  for (std::int64_t k = 0; k < config_.num_samples; ++k) {
    double mean = 0.0;
    for (std::int64_t j = 0; j < J; ++j) mean += to_fitness(values[k * J + j]);
    mean /= static_cast<double>(J);
    if (mean > state_.best_value[r]) {  // false for NaN
      state_.best_value[r] = mean;
      state_.best_step[r] = state_.step;
      best = k;
    }
  }
  return best;
}

double ProgPowerHP::step_factor(std::int64_t r, double norm, double log_scale) {
  const double alpha = lr();
  double c;
  if (config_.step_rule == AskTellStep::mean) {
    c = alpha;
  } else if (config_.step_rule == AskTellStep::sigma) {
    c = norm > 0.0 ? alpha * sigma() / norm : 0.0;
  } else {
    c = step_multiplier(static_cast<StepRule>(config_.step_rule), alpha, last_[r].power, log_scale, norm);
  }
  last_[r].log_scale = log_scale;
  last_[r].step_norm = std::fabs(c) * norm;
  return c;
}

void ProgPowerHP::move(const double* directions, const std::vector<double>& log_scales) {
  const std::int64_t R = config_.runs, d = config_.dim;
  for (std::int64_t r = 0; r < R; ++r) {
    const double* dir = directions + r * d;
    for (std::int64_t i = 0; i < d; ++i) last_direction_[r * d + i] = config_.maximize ? dir[i] : -dir[i];
    double norm2 = 0.0;
    for (std::int64_t i = 0; i < d; ++i) norm2 += dir[i] * dir[i];
    const double c = step_factor(r, std::sqrt(norm2), log_scales[r]);
    double* mu = state_.mu.data() + r * d;
    for (std::int64_t i = 0; i < d; ++i) mu[i] += c * dir[i];
    bound(mu, false);
  }
  ++state_.step;
  pending_step_ = -1;
}

template <class Reduce>
void ProgPowerHP::reduce_runs(const double* values, std::int64_t J, Reduce&& reduce) {
  const std::int64_t KJ = config_.num_samples * J;
  std::vector<double> fitness(static_cast<std::size_t>(KJ));
  const std::vector<double> spread_before = state_.spread;
  const std::vector<AskTellRunStats> last_before = last_;
  try {
    for (std::int64_t r = 0; r < config_.runs; ++r) {
      for (std::int64_t i = 0; i < KJ; ++i) fitness[i] = to_fitness(values[r * KJ + i]);
      reduce(r, fitness.data(), applied_power(r, fitness.data(), KJ));
    }
  } catch (...) {
    state_.spread = spread_before;
    last_ = last_before;
    throw;
  }
}

void ProgPowerHP::record_evaluations(const double* values, std::int64_t J) {
  const std::int64_t R = config_.runs, K = config_.num_samples, d = config_.dim;
  std::vector<double> samples(static_cast<std::size_t>(R * K * d));
  ask(samples.data());
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int64_t k = best_sample(r, values + r * K * J, J);
    if (k >= 0) std::copy_n(samples.data() + (r * K + k) * d, d, state_.best_mu.begin() + r * d);
  }
  state_.evaluations += R * K * J;
}

void ProgPowerHP::tell(const double* values, const double* grads, std::int64_t J, NanPolicy policy) {
  HOMOTOPT_CHECK(values != nullptr && grads != nullptr, "values, grads: expected buffers, got null");
  HOMOTOPT_CHECK(J >= 1, "batch: expected J >= 1 data points per sample, got ", J);
  const std::int64_t R = config_.runs, K = config_.num_samples, d = config_.dim, KJ = K * J;
  std::vector<double> directions(static_cast<std::size_t>(R * d)), log_scales(static_cast<std::size_t>(R));
  std::vector<AskTellRunStats> stats(static_cast<std::size_t>(R));
  // Reduce every run first, so that a rejected call (NaN under raise) leaves the state untouched.
  reduce_runs(values, J, [&](std::int64_t r, const double* fitness, double N) {
    PowerState st(d);
    // grads of the objective; with maximize = false they are loss gradients: the direction's sign flips.
    st.update(make_view(fitness, {K, J}), make_view(grads + r * KJ * d, {K, J, d}), N, policy);
    const PowerResultStats res = st.result(make_view(directions.data() + r * d, {d}));
    if (!config_.maximize) {
      for (std::int64_t i = 0; i < d; ++i) directions[r * d + i] = -directions[r * d + i];
    }
    log_scales[r] = res.log_scale;
    stats[r] = last_[r];
    stats[r].count = res.count;
    stats[r].omitted = res.omitted;
  });
  record_evaluations(values, J);
  last_ = stats;
  move(directions.data(), log_scales);
}

void ProgPowerHP::weights_into(const double* values, std::int64_t J, double* out, NanPolicy policy) {
  HOMOTOPT_CHECK(values != nullptr && out != nullptr, "values, out: expected buffers, got null");
  HOMOTOPT_CHECK(J >= 1, "batch: expected J >= 1 data points per sample, got ", J);
  const std::int64_t K = config_.num_samples, KJ = K * J;
  std::vector<double> log_scales(static_cast<std::size_t>(config_.runs));
  reduce_runs(values, J, [&](std::int64_t r, const double* fitness, double N) {
    const PowerWeightsStats w = power_weights(make_view(fitness, {K, J}), N, policy, make_view(out + r * KJ, {K, J}));
    log_scales[r] = w.count ? w.log_sum_exp - std::log(static_cast<double>(w.count)) + std::log(N) : -kInf;
    last_[r].count = w.count;
    last_[r].omitted = w.omitted;
  });
  pending_log_scale_ = log_scales;
  pending_step_ = state_.step;
}

void ProgPowerHP::weights(const double* values, std::int64_t J, double* out, NanPolicy policy) {
  weights_into(values, J, out, policy);
  record_evaluations(values, J);
}

void ProgPowerHP::weights_held(const double* values, std::int64_t J, double* out, std::int64_t* best,
                               NanPolicy policy) {
  HOMOTOPT_CHECK(best != nullptr, "best: expected a buffer of R integers, got null");
  weights_into(values, J, out, policy);
  const std::int64_t R = config_.runs, K = config_.num_samples;
  for (std::int64_t r = 0; r < R; ++r) best[r] = best_sample(r, values + r * K * J, J);
  state_.evaluations += R * K * J;
}

void ProgPowerHP::step_held(const double* norms, double* factors) {
  HOMOTOPT_CHECK(pending_step_ == state_.step, "step_held: call weights_held(values) for this step first");
  HOMOTOPT_CHECK(norms != nullptr && factors != nullptr, "norms, factors: expected buffers of R numbers, got null");
  for (std::int64_t r = 0; r < config_.runs; ++r) {
    HOMOTOPT_CHECK(norms[r] >= 0.0 && std::isfinite(norms[r]), "norms: expected finite values >= 0, got ",
                   norms[r], " at run ", r);
    factors[r] = step_factor(r, norms[r], pending_log_scale_[r]);
  }
  ++state_.step;
  pending_step_ = -1;
}

void ProgPowerHP::tell_weighted(const double* grads) {
  HOMOTOPT_CHECK(pending_step_ == state_.step, "tell: without values, call weights(values) for this step first");
  HOMOTOPT_CHECK(grads != nullptr, "grads: expected a buffer of R x K x d doubles, got null");
  const std::int64_t R = config_.runs, K = config_.num_samples, d = config_.dim;
  std::vector<double> directions(static_cast<std::size_t>(R * d), 0.0);
  for (std::int64_t r = 0; r < R; ++r) {
    for (std::int64_t k = 0; k < K; ++k) {
      for (std::int64_t i = 0; i < d; ++i) {
        const double g = grads[(r * K + k) * d + i];
        HOMOTOPT_CHECK(std::isfinite(g), "grads: expected finite values, got ", g, " at run ", r, ", sample ", k);
        directions[r * d + i] += config_.maximize ? g : -g;
      }
    }
  }
  move(directions.data(), pending_log_scale_);
}

bool ProgPowerHP::report(std::int64_t r, double value) {
  HOMOTOPT_CHECK(r >= 0 && r < config_.runs, "run: expected 0 <= run < R = ", config_.runs, ", got ", r);
  const double f = to_fitness(value);
  if (!state_.reported[r]) {  // the first report replaces the best evaluated sample
    state_.reported[r] = 1;
    state_.best_value[r] = -kInf;
  }
  if (f > state_.best_value[r]) {  // false for NaN: a NaN never becomes the best
    state_.best_value[r] = f;
    state_.best_step[r] = state_.step;
    std::copy(state_.mu.begin() + r * config_.dim, state_.mu.begin() + (r + 1) * config_.dim,
              state_.best_mu.begin() + r * config_.dim);
    return true;
  }
  return false;
}

std::vector<double> ProgPowerHP::best_value() const {
  std::vector<double> v = state_.best_value;
  for (double& x : v) x = to_fitness(x);
  return v;
}

void ProgPowerHP::load_state(const AskTellState& s) {
  const std::size_t R = static_cast<std::size_t>(config_.runs), Rd = R * static_cast<std::size_t>(config_.dim);
  HOMOTOPT_CHECK(s.mu.size() == Rd && s.best_mu.size() == Rd, "state: expected mu and best_mu of R x d = ", Rd,
                 " numbers, got ", s.mu.size(), " and ", s.best_mu.size());
  HOMOTOPT_CHECK(s.best_value.size() == R && s.spread.size() == R && s.best_step.size() == R &&
                     s.reported.size() == R,
                 "state: expected best_value, spread, best_step and reported of R = ", R, " entries each");
  HOMOTOPT_CHECK(s.step >= 0 && s.evaluations >= 0, "state: expected step, evaluations >= 0, got ", s.step, ", ",
                 s.evaluations);
  for (double v : s.mu) HOMOTOPT_CHECK(std::isfinite(v), "state: expected finite mu, got ", v);
  state_ = s;
  pending_step_ = -1;
}

}  // namespace homotopt
