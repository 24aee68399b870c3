// CPU backend of homotopt::Runner (runner.hpp): OpenMP over trials, each trial advanced by one thread
// through its own Philox streams, so results do not depend on the thread count. Per step: the method's
// update (Prog-PowerHP's fused estimator and step rule, or a baseline), then validation and
// best-iterate bookkeeping at the evaluation steps.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/kernels.hpp"
#include "cpu/models/phase_retrieval_model.hpp"
#include "cpu/models/relu_model.hpp"
#include "cpu/models/toy1d_model.hpp"
#include "cpu/parallel.hpp"
#include "runner_impl.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

RandomKey key_of(std::uint64_t seed, RandomStream stream, std::int64_t trial, std::int64_t t) {
  return RandomKey{seed, static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(trial),
                   static_cast<std::uint32_t>(t)};
}

// Whether the iterate after step t (that is, after t + 1 updates) is evaluated.
bool evaluated_after(std::int64_t t, const RunConfig& c) { return homotopt::evaluated_after(t, c.eval_every, c.steps); }

template <class T, class Model>
class CpuRunner final : public RunnerImpl {
 public:
  CpuRunner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0)
      : problem_(problem), config_(config) {
    trials = mu0.shape[0];
    dim = mu0.shape[1];
    dtype = mu0.dtype;
    const T* m0 = mu0.ptr<const T>();
    mu_.assign(m0, m0 + trials * dim);
    best_mu_ = mu_;
    best_value_.assign(static_cast<std::size_t>(trials), -kInf);
    best_step_.assign(static_cast<std::size_t>(trials), 0);
    if (config.method == Method::adam) {
      adam_m_.assign(mu_.size(), 0.0);
      adam_v_.assign(mu_.size(), 0.0);
    }
  }

  void advance(std::int64_t steps) override {
    const std::int64_t t0 = t, t1 = std::min(config_.steps, t + std::max<std::int64_t>(steps, 0));
    const bool first = history.steps.empty();
    // History rows this call writes: t = 0 on the first call, then each evaluated step in (t0, t1].
    std::vector<std::int64_t> rows;
    if (first) rows.push_back(0);
    for (std::int64_t s = t0; s < t1; ++s)
      if (evaluated_after(s, config_)) rows.push_back(s + 1);
    const std::size_t row0 = history.steps.size();
    for (std::int64_t e : rows) {
      history.steps.push_back(e);
      history.power.push_back(config_.power.at(e));
      history.sigma.push_back(config_.sigma.at(e));
    }
    history.value.resize(history.steps.size() * trials, 0.0);
    history.metric.resize(history.steps.size() * trials, 0.0);

    const int nt = static_cast<int>(std::min<std::int64_t>(max_threads(), trials));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      typename Model::Workspace ws;
      Scratch scratch;
      scratch.u.resize(static_cast<std::size_t>(dim));
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t r = 0; r < trials; ++r) {
        const Model model(problem_, r);
        std::size_t row = row0;
        if (first) evaluate(model, ws, r, 0, row++);
        for (std::int64_t s = t0; s < t1; ++s) {
          update(model, ws, r, s, scratch);
          if (evaluated_after(s, config_)) evaluate(model, ws, r, s + 1, row++);
        }
      }
    }
    t = t1;
  }

  void state(const ArrayView& mu, const ArrayView& best_mu, const ArrayView& best_value,
             const ArrayView& best_step) const override {
    if (!mu.empty_view()) std::memcpy(mu.data, mu_.data(), mu_.size() * sizeof(T));
    if (!best_mu.empty_view()) std::memcpy(best_mu.data, best_mu_.data(), best_mu_.size() * sizeof(T));
    if (!best_value.empty_view()) std::memcpy(best_value.data, best_value_.data(), best_value_.size() * sizeof(double));
    if (!best_step.empty_view()) std::memcpy(best_step.data, best_step_.data(), best_step_.size() * sizeof(std::int64_t));
  }

 private:
  struct Scratch {
    std::vector<double> u;     // the direction
    std::vector<double> f;     // SLGH: fitness at the K + 1 points
    std::vector<double> dirs;  // SLGH: the K directions (K x d)
    std::vector<T> points;     // SLGH: x and x + s u_k
  };

  void evaluate(const Model& model, typename Model::Workspace& ws, std::int64_t r, std::int64_t step,
                std::size_t row) {
    T* x = mu_.data() + r * dim;
    const double value = model.validation(ws, x);
    history.value[row * trials + r] = value;
    history.metric[row * trials + r] =
        config_.track_metric ? model.metric(ws, x) : std::numeric_limits<double>::quiet_NaN();
    if (improves_best(value, best_value_[r])) {
      best_value_[r] = value;
      best_step_[r] = step;
      std::copy(x, x + dim, best_mu_.data() + r * dim);
    }
  }

  // One step t of trial r: mu_r moves by the method's rule.
  void update(const Model& model, typename Model::Workspace& ws, std::int64_t r, std::int64_t t,
              Scratch& scratch) {
    std::vector<double>& u = scratch.u;
    const RunConfig& c = config_;
    T* x = mu_.data() + r * dim;
    const double alpha = c.lr.at(t);
    const RandomStream batch_stream =
        std::is_same<Model, ReluModel<T>>::value || std::is_same<Model, Toy1DModel>::value ? RandomStream::inputs
                                                                                           : RandomStream::minibatch;
    model.draw_batch(ws, key_of(c.seed, batch_stream, c.first_trial + r, t), c.batch_size, c.method == Method::gd);
    if (c.method == Method::slgh) {
      slgh_update(model, ws, r, t, x, alpha, scratch);
      return;
    }
    SampleSpec spec;
    if (c.method == Method::powerhp) {
      spec.num_samples = c.num_samples;
      spec.sigma = c.sigma.at(t);
      spec.power = c.power.at(t);
    } else {  // gradient of the mean fitness: one "sample" at mu, uniform weights
      spec.num_samples = 1;
      spec.sigma = 0.0;
      spec.power = 0.0;
    }
    spec.key = key_of(c.seed, RandomStream::samples, c.first_trial + r, t);
    PowerState::Parts parts;
    model.power_estimate(ws, x, spec, parts, u.data());
    double norm2 = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) {
      u[i] = power_direction(u[i], parts.lse.s);
      norm2 += u[i] * u[i];
    }
    if (c.method == Method::powerhp) {
      const PowerSummary summary = power_summary(spec.power, parts.lse.m, parts.lse.s, parts.count);
      const double step = step_multiplier(c.step_rule, alpha, spec.power, summary.log_scale, std::sqrt(norm2));
      for (std::int64_t i = 0; i < dim; ++i) x[i] = static_cast<T>(static_cast<double>(x[i]) + step * u[i]);
    } else if (c.method == Method::adam) {
      const double bias1 = 1.0 - std::pow(c.adam_beta1, static_cast<double>(t + 1));
      const double bias2 = 1.0 - std::pow(c.adam_beta2, static_cast<double>(t + 1));
      double* m = adam_m_.data() + r * dim;
      double* v = adam_v_.data() + r * dim;
      for (std::int64_t i = 0; i < dim; ++i) {
        m[i] = c.adam_beta1 * m[i] + (1.0 - c.adam_beta1) * u[i];
        v[i] = c.adam_beta2 * v[i] + (1.0 - c.adam_beta2) * u[i] * u[i];
        const double step = alpha * (m[i] / bias1) / (std::sqrt(v[i] / bias2) + c.adam_eps);
        x[i] = static_cast<T>(static_cast<double>(x[i]) + step);
      }
    } else {  // gd, sgd
      for (std::int64_t i = 0; i < dim; ++i) x[i] = static_cast<T>(static_cast<double>(x[i]) + alpha * u[i]);
    }
  }

  // SLGH_r: x += alpha mean_k[(f(x + s u_k) - f(x)) u_k] / s on the minibatch, s = max(s0 gamma^t, s_min),
  // u_k = numbers k d .. k d + d - 1 of the directions stream.
  void slgh_update(const Model& model, typename Model::Workspace& ws, std::int64_t r, std::int64_t t, T* x,
                   double alpha, Scratch& sc) {
    const RunConfig& c = config_;
    const std::int64_t K = c.num_samples;
    const double s = std::max(c.sigma.start * std::pow(c.slgh_gamma, static_cast<double>(t)), c.slgh_sigma_min);
    sc.dirs.resize(static_cast<std::size_t>(K * dim));
    double* dirs = sc.dirs.data();
    generate_span<Distribution::normal>(0, K * dim, key_of(c.seed, RandomStream::directions, c.first_trial + r, t), 0,
                                        [dirs](std::int64_t i, double v) { dirs[i] = v; });
    sc.points.resize(static_cast<std::size_t>((K + 1) * dim));
    std::copy(x, x + dim, sc.points.data());
    for (std::int64_t i = 0; i < K * dim; ++i)
      sc.points[dim + i] = static_cast<T>(static_cast<double>(x[i % dim]) + s * dirs[i]);
    sc.f.resize(static_cast<std::size_t>(K + 1));
    model.batch_fitness(ws, sc.points.data(), K + 1, sc.f.data());
    for (std::int64_t i = 0; i < dim; ++i) {
      double g = 0.0;
      for (std::int64_t k = 0; k < K; ++k) g += (sc.f[k + 1] - sc.f[0]) * dirs[k * dim + i];
      x[i] = static_cast<T>(static_cast<double>(x[i]) + alpha * g / (static_cast<double>(K) * s));
    }
  }

  ProblemViews problem_;
  RunConfig config_;
  std::vector<T> mu_, best_mu_;
  std::vector<double> best_value_;
  std::vector<std::int64_t> best_step_;
  std::vector<double> adam_m_, adam_v_;
};

}  // namespace

std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config,
                                        const ArrayView& mu0) {
  switch (problem.kind) {
    case ProblemKind::phase_retrieval:
      if (mu0.dtype == DType::float32)
        return std::make_unique<CpuRunner<float, PhaseRetrievalModel<float>>>(problem, config, mu0);
      return std::make_unique<CpuRunner<double, PhaseRetrievalModel<double>>>(problem, config, mu0);
    case ProblemKind::two_layer_relu:
      if (mu0.dtype == DType::float32)
        return std::make_unique<CpuRunner<float, ReluModel<float>>>(problem, config, mu0);
      return std::make_unique<CpuRunner<double, ReluModel<double>>>(problem, config, mu0);
    case ProblemKind::toy1d:
      return std::make_unique<CpuRunner<double, Toy1DModel>>(problem, config, mu0);
  }
  return nullptr;
}

}  // namespace HOMOTOPT_CPU_NS
