// CUDA backend of homotopt::Runner for Prog-PowerHP on phase retrieval: one persistent block per trial
// running a whole chunk of steps per launch, with the trial's iterate, samples, minibatch and sums in
// shared memory. Each step follows cpu/runner.cpp (the same Philox addresses, schedules, estimator and
// step rule from the shared headers), so CPU and CUDA trajectories agree up to the order of sums.
// Validation, the metric and the best iterate are kept on the device; the host copies history rows
// after each launch and the state on request.
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "common.cuh"
#include "dtype_dispatch.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/sample.hpp"
#include "runner_impl.hpp"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;

struct Params {
  std::int64_t R, n, d, K, J, steps_total, eval_every, first_trial;
  bool batched;
  PowerSchedule power;
  SigmaSchedule sigma;
  LearningRate lr;
  StepRule rule;
  std::uint64_t seed;
  bool track_metric;
};

// The history row of the evaluation after `e` steps (e = 0, eval_every, ..., and the last step).
__host__ __device__ inline std::int64_t history_row(std::int64_t e, const Params& p) {
  return e % p.eval_every == 0 ? e / p.eval_every : p.steps_total / p.eval_every + 1;
}

__device__ inline RandomKey key_of(const Params& p, RandomStream stream, std::int64_t trial, std::int64_t t) {
  return RandomKey{p.seed, static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(p.first_trial + trial),
                   static_cast<std::uint32_t>(t)};
}

template <class T>
struct Shared {  // views into the block's dynamic shared memory
  T* mu;            // d
  T* W;             // K x d
  double* pair;     // J x K: z, then w df/dz
  double* u;        // d
  double* c;        // J
  double* reduce;   // kThreads
  std::int64_t* rows;  // J
};

template <class T>
__device__ Shared<T> carve(unsigned char* smem, const Params& p) {
  Shared<T> s;
  double* dbl = reinterpret_cast<double*>(smem);
  s.pair = dbl;
  s.u = s.pair + p.J * p.K;
  s.c = s.u + p.d;
  s.reduce = s.c + p.J;
  s.rows = reinterpret_cast<std::int64_t*>(s.reduce + kThreads);
  s.mu = reinterpret_cast<T*>(s.rows + p.J);
  s.W = s.mu + p.d;
  return s;
}

__device__ double block_total(double v, double* red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) red[threadIdx.x] += red[threadIdx.x + half];
    __syncthreads();
  }
  const double total = red[0];
  __syncthreads();
  return total;
}

__device__ double block_max(double v, double* red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) red[threadIdx.x] = fmax(red[threadIdx.x], red[threadIdx.x + half]);
    __syncthreads();
  }
  const double m = red[0];
  __syncthreads();
  return m;
}

// Validation (mean fitness over all n rows) and metric of the block's iterate; best-iterate bookkeeping.
template <class T>
__device__ void evaluate(const Params& p, const Shared<T>& s, const T* A, const T* y, const double* x_true,
                         std::int64_t r, std::int64_t e, T* best_mu, double* best_value, std::int64_t* best_step,
                         double* hist_value, double* hist_metric) {
  double f = 0.0;
  for (std::int64_t i = threadIdx.x; i < p.n; i += kThreads) {
    double z = 0.0;
    for (std::int64_t c = 0; c < p.d; ++c) z = fma(static_cast<double>(A[i * p.d + c]), static_cast<double>(s.mu[c]), z);
    f += static_cast<double>(phase_retrieval_pair(static_cast<T>(z), y[i]).f);
  }
  const double value = block_total(f, s.reduce) / static_cast<double>(p.n);
  double metric = nan("");
  if (p.track_metric && x_true) {
    MetricSums sums;
    for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads) sums.add(static_cast<double>(s.mu[c]), x_true[c]);
    sums.minus = block_total(sums.minus, s.reduce);
    sums.plus = block_total(sums.plus, s.reduce);
    sums.norm = block_total(sums.norm, s.reduce);
    metric = sums.metric();
  }
  const std::int64_t row = history_row(e, p);
  const bool better = improves_best(value, best_value[r]);
  __syncthreads();
  if (threadIdx.x == 0) {
    hist_value[row * p.R + r] = value;
    hist_metric[row * p.R + r] = metric;
    if (better) {
      best_value[r] = value;
      best_step[r] = e;
    }
  }
  if (better)
    for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads) best_mu[r * p.d + c] = s.mu[c];
}

template <class T>
__global__ void powerhp_kernel(Params p, const T* A_all, const T* y_all, const double* x_all, std::int64_t t0,
                               std::int64_t t1, bool first, T* mu_all, T* best_mu, double* best_value,
                               std::int64_t* best_step, double* hist_value, double* hist_metric) {
  extern __shared__ unsigned char smem[];
  const Shared<T> s = carve<T>(smem, p);
  const std::int64_t r = blockIdx.x, inst = p.batched ? r : 0;
  const T* A = A_all + inst * p.n * p.d;
  const T* y = y_all + inst * p.n;
  const double* x_true = x_all ? x_all + inst * p.d : nullptr;
  for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads) s.mu[c] = mu_all[r * p.d + c];
  __syncthreads();
  if (first) evaluate(p, s, A, y, x_true, r, 0, best_mu, best_value, best_step, hist_value, hist_metric);
  const std::int64_t KJ = p.K * p.J;
  for (std::int64_t t = t0; t < t1; ++t) {
    const double N = p.power.at(t), sigma = p.sigma.at(t), alpha = p.lr.at(t);
    const RandomKey rows_key = key_of(p, RandomStream::minibatch, r, t), samples_key = key_of(p, RandomStream::samples, r, t);
    for (std::int64_t j = threadIdx.x; j < p.J; j += kThreads) s.rows[j] = index_at(rows_key, j, p.n);
    for (std::int64_t q = threadIdx.x; 4 * q < p.K * p.d; q += kThreads) {
      float nq[4];
      normal_quad(random_block(samples_key, static_cast<std::uint64_t>(q)), nq);
      for (int i = 0; i < 4; ++i) {
        const std::int64_t idx = 4 * q + i;
        if (idx < p.K * p.d) s.W[idx] = sample_point<T>(static_cast<double>(s.mu[idx % p.d]), sigma, nq[i]);
      }
    }
    __syncthreads();
    // z_jk = a_j . w_k (rounded to T, as on the CPU), then the max of a = N f.
    double local_max = -kInf;
    for (std::int64_t q = threadIdx.x; q < KJ; q += kThreads) {
      const std::int64_t j = q / p.K, k = q % p.K;
      const T* a = A + s.rows[j] * p.d;
      double z = 0.0;
      for (std::int64_t c = 0; c < p.d; ++c) z = fma(static_cast<double>(a[c]), static_cast<double>(s.W[k * p.d + c]), z);
      s.pair[q] = static_cast<double>(static_cast<T>(z));
      const double av = power_exponent(N, static_cast<double>(phase_retrieval_pair(static_cast<T>(z), y[s.rows[j]]).f));
      local_max = fmax(local_max, av);
    }
    LseState lse;
    const double m_all = block_max(local_max, s.reduce);
    if (m_all > -kInf && m_all < kInf) {
      lse.add_block(m_all);
    } else {  // N f overflowed (or no pair has a weight): lse.hpp's limit rule, weight 1 for the largest f's ties
      double local_top = -kInf;
      for (std::int64_t q = threadIdx.x; q < KJ; q += kThreads)
        local_top = fmax(local_top, static_cast<double>(phase_retrieval_pair(static_cast<T>(s.pair[q]), y[s.rows[q / p.K]]).f));
      bool counts = false;
      lse.add_limit_block(m_all, block_max(local_top, s.reduce), counts);
    }
    // Weights: s = sum w (each thread's share, then the block's); the pair slot becomes w df/dz.
    double local_s = 0.0;
    for (std::int64_t q = threadIdx.x; q < KJ; q += kThreads) {
      const std::int64_t j = q / p.K;
      const PairValue<T> pv = phase_retrieval_pair(static_cast<T>(s.pair[q]), y[s.rows[j]]);
      const double f = static_cast<double>(pv.f);
      const double w = lse.limit() ? lse.limit_weight(f) : lse.weight(power_exponent(N, f));  // 0 when empty
      local_s += w;
      s.pair[q] = w > 0.0 ? w * static_cast<double>(pv.dfdz) : 0.0;
    }
    lse.s = block_total(local_s, s.reduce);
    for (std::int64_t j = threadIdx.x; j < p.J; j += kThreads) {
      double cj = 0.0;
      for (std::int64_t k = 0; k < p.K; ++k) cj += s.pair[j * p.K + k];
      s.c[j] = cj;
    }
    __syncthreads();
    double local_norm = 0.0;
    for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads) {
      double acc = 0.0;
      for (std::int64_t j = 0; j < p.J; ++j) acc = fma(s.c[j], static_cast<double>(A[s.rows[j] * p.d + c]), acc);
      s.u[c] = power_direction(acc, lse.s);
      local_norm += s.u[c] * s.u[c];
    }
    const double norm = sqrt(block_total(local_norm, s.reduce));
    const PowerSummary summary = power_summary(N, lse.m, lse.s, KJ);
    const double step = step_multiplier(p.rule, alpha, N, summary.log_scale, norm);
    for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads)
      s.mu[c] = static_cast<T>(static_cast<double>(s.mu[c]) + step * s.u[c]);
    __syncthreads();
    if (evaluated_after(t, p.eval_every, p.steps_total))
      evaluate(p, s, A, y, x_true, r, t + 1, best_mu, best_value, best_step, hist_value, hist_metric);
  }
  for (std::int64_t c = threadIdx.x; c < p.d; c += kThreads) mu_all[r * p.d + c] = s.mu[c];
}

template <class T>
class CudaRunner final : public RunnerImpl {
 public:
  CudaRunner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0)
      : stream_(stream_of(problem.A)), device_(problem.A.device.index) {
    DeviceGuard guard(device_);
    trials = mu0.shape[0];
    dim = mu0.shape[1];
    dtype = mu0.dtype;
    const int lead = problem.batched ? 1 : 0;
    p_ = Params{trials, problem.A.shape[lead], dim, config.num_samples, config.batch_size, config.steps,
                config.eval_every, config.first_trial, problem.batched, config.power, config.sigma, config.lr,
                config.step_rule, config.seed, config.track_metric};
    A_ = problem.A.ptr<const T>();
    y_ = problem.y.ptr<const T>();
    const std::size_t rows_total = static_cast<std::size_t>(config.steps / config.eval_every + 2);
    mu_ = std::make_unique<DeviceBuffer<T>>(trials * dim, stream_);
    best_mu_ = std::make_unique<DeviceBuffer<T>>(trials * dim, stream_);
    best_value_ = std::make_unique<DeviceBuffer<double>>(trials, stream_);
    best_step_ = std::make_unique<DeviceBuffer<std::int64_t>>(trials, stream_);
    hist_value_ = std::make_unique<DeviceBuffer<double>>(rows_total * trials, stream_);
    hist_metric_ = std::make_unique<DeviceBuffer<double>>(rows_total * trials, stream_);
    mu_->from_host(mu0.ptr<const T>(), trials * dim);  // mu0 is a host array
    best_mu_->from_host(mu0.ptr<const T>(), trials * dim);
    const std::vector<double> minus_inf(trials, -kInf);
    best_value_->from_host(minus_inf.data(), trials);
    best_step_->zero();
    if (!problem.x_true.empty_view()) {  // x_true is a float64 host array: copy it once
      x_ = std::make_unique<DeviceBuffer<double>>(problem.x_true.numel(), stream_);
      x_->from_host(problem.x_true.ptr<const double>(), problem.x_true.numel());
    }
    shared_ = (p_.J * p_.K + p_.d + p_.J + kThreads) * sizeof(double) + p_.J * sizeof(std::int64_t) +
              (p_.d + p_.K * p_.d) * sizeof(T);
    int limit = 0;
    HOMOTOPT_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
    HOMOTOPT_CHECK(shared_ <= static_cast<std::size_t>(limit), "num_samples, batch_size: the CUDA runner keeps a "
                   "trial's K x d samples in shared memory; ", shared_, " bytes exceed the device's ", limit);
    if (shared_ > 48 * 1024)
      HOMOTOPT_CUDA_CHECK(cudaFuncSetAttribute(powerhp_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(shared_)));
  }

  void advance(std::int64_t steps) override {
    DeviceGuard guard(device_);
    const std::int64_t t0 = t, t1 = std::min(p_.steps_total, t + std::max<std::int64_t>(steps, 0));
    const bool first = history.steps.empty();
    std::vector<std::int64_t> evals;
    if (first) evals.push_back(0);
    for (std::int64_t s = t0; s < t1; ++s)
      if ((s + 1) % p_.eval_every == 0 || s + 1 == p_.steps_total) evals.push_back(s + 1);
    launch(powerhp_kernel<T>, dim3(static_cast<unsigned>(trials)), kThreads, shared_, stream_, p_, A_, y_,
           x_ ? static_cast<const double*>(x_->get()) : nullptr, t0, t1, first, mu_->get(), best_mu_->get(),
           best_value_->get(), best_step_->get(), hist_value_->get(), hist_metric_->get());
    const std::vector<double> values = hist_value_->to_host(), metrics = hist_metric_->to_host();
    for (std::int64_t e : evals) {
      const std::int64_t row = history_row(e, p_);
      history.steps.push_back(e);
      history.power.push_back(p_.power.at(e));
      history.sigma.push_back(p_.sigma.at(e));
      history.value.insert(history.value.end(), values.begin() + row * trials, values.begin() + (row + 1) * trials);
      history.metric.insert(history.metric.end(), metrics.begin() + row * trials, metrics.begin() + (row + 1) * trials);
    }
    t = t1;
  }

  void state(const ArrayView& mu, const ArrayView& best_mu, const ArrayView& best_value,
             const ArrayView& best_step) const override {
    DeviceGuard guard(device_);
    copy_out(*mu_, mu);
    copy_out(*best_mu_, best_mu);
    copy_out(*best_value_, best_value);
    copy_out(*best_step_, best_step);
  }

 private:
  template <class V>
  static void copy_out(const DeviceBuffer<V>& from, const ArrayView& to) {
    if (to.empty_view()) return;
    const std::vector<V> host = from.to_host();
    std::copy(host.begin(), host.end(), to.ptr<V>());
  }

  cudaStream_t stream_;
  int device_;
  Params p_{};
  const T* A_ = nullptr;
  const T* y_ = nullptr;
  std::unique_ptr<DeviceBuffer<T>> mu_, best_mu_;
  std::unique_ptr<DeviceBuffer<double>> best_value_, hist_value_, hist_metric_, x_;
  std::unique_ptr<DeviceBuffer<std::int64_t>> best_step_;
  std::size_t shared_ = 0;
};

}  // namespace

std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0) {
  HOMOTOPT_CHECK(problem.kind == ProblemKind::phase_retrieval && config.method == Method::powerhp,
                 "the CUDA runner runs Prog-PowerHP on phase retrieval; run other problems and the baselines "
                 "with host (NumPy) data");
  if (mu0.dtype == DType::float32) return std::make_unique<CudaRunner<float>>(problem, config, mu0);
  return std::make_unique<CudaRunner<double>>(problem, config, mu0);
}

}  // namespace homotopt::cuda
