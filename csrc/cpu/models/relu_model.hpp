// Internal: the two-layer ReLU teacher-student problem as a runner model (problems/two_layer_relu.hpp):
// fresh inputs each step from the inputs stream, the power estimator over K samples x J inputs, mean
// fitness on a set of inputs, and the test loss as metric.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/capability_namespace.hpp"
#include "cpu/random_span.hpp"
#include "homotopt/lse.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/problems/two_layer_relu.hpp"
#include "homotopt/runner.hpp"
#include "homotopt/sample.hpp"

namespace HOMOTOPT_CPU_NS {

// h = W x: the k pre-activations of one input (W: k x n row-major), summed in float64, rounded to T.
template <class T>
void relu_preactivations(const T* W, const T* x, std::int64_t k, std::int64_t n, T* h) {
  for (std::int64_t i = 0; i < k; ++i) {
    const T* wi = W + i * n;
    // Four fixed lanes summed in a fixed order: the same bits for every CPU capability's vector width.
    double lanes[4] = {};
    std::int64_t c = 0;
    for (; c + 4 <= n; c += 4) {
#pragma omp simd
      for (int l = 0; l < 4; ++l) lanes[l] += static_cast<double>(wi[c + l]) * static_cast<double>(x[c + l]);
    }
    double acc = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; c < n; ++c) acc += static_cast<double>(wi[c]) * static_cast<double>(x[c]);
    h[i] = static_cast<T>(acc);
  }
}

// Mean fitness of student W over `count` inputs X (count x n) with labels Y: the CPU's one evaluation of
// the ReLU problem (the runner's validation and test loss, and two_layer_relu_fitness). h: k scratch.
template <class T>
double relu_mean_fitness(const T* W, const T* X, const T* Y, std::int64_t count, std::int64_t k, std::int64_t n,
                         T* h) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < count; ++j) {
    relu_preactivations(W, X + j * n, k, n, h);
    sum += static_cast<double>(relu_fitness(relu_residual(h, k, Y[j])));
  }
  return sum / static_cast<double>(count);
}

template <class T>
class ReluModel {
 public:
  struct Workspace {
    std::vector<T> x, y;      // the batch: J inputs (J x n) and their teacher labels
    std::vector<T> w;         // K samples (K x d)
    std::vector<T> h;         // pre-activations, K x J x k
    std::vector<double> a;    // exponents N f, K x J
    std::vector<double> e;    // residuals, K x J
    std::vector<double> m;    // M_j (J x k)
  };

  ReluModel(const ProblemViews& v, std::int64_t trial) {
    const std::int64_t inst = v.batched ? trial : 0;
    const int lead = v.batched ? 1 : 0;
    k_ = v.teacher.shape[lead];
    n_ = v.teacher.shape[lead + 1];
    teacher_ = v.teacher.ptr<const T>() + inst * k_ * n_;
    nval_ = v.val_x.shape[lead];
    val_x_ = v.val_x.ptr<const T>() + inst * nval_ * n_;
    val_y_ = v.val_y.ptr<const T>() + inst * nval_;
    ntest_ = v.test_x.shape[lead];
    test_x_ = v.test_x.ptr<const T>() + inst * ntest_ * n_;
    test_y_ = v.test_y.ptr<const T>() + inst * ntest_;
  }

  std::int64_t dim() const { return k_ * n_; }

  // J fresh inputs x ~ N(0, I_n) (numbers j n .. j n + n - 1 of the inputs stream) and y = teacher(x).
  void draw_batch(Workspace& ws, const RandomKey& key, std::int64_t J, bool /*full*/) const {
    ws.x.resize(static_cast<std::size_t>(J * n_));
    ws.y.resize(static_cast<std::size_t>(J));
    T* x = ws.x.data();
    generate_span<Distribution::normal>(0, J * n_, key, 0, [x](std::int64_t i, double v) { x[i] = static_cast<T>(v); });
    for (std::int64_t j = 0; j < J; ++j) ws.y[j] = label(teacher_, x + j * n_);
  }

  void power_estimate(Workspace& ws, const T* mu, const SampleSpec& spec, PowerState::Parts& parts,
                      double* u) const {
    const std::int64_t K = spec.num_samples, J = static_cast<std::int64_t>(ws.y.size()), d = dim();
    ws.w.resize(static_cast<std::size_t>(K * d));
    T* w = ws.w.data();
    if (spec.sigma == 0.0) {
      for (std::int64_t i = 0; i < K * d; ++i) w[i] = mu[i % d];
    } else {
      std::int64_t c = 0;
      generate_span<Distribution::normal>(0, K * d, spec.key, 0, [&](std::int64_t i, double v) {
        w[i] = sample_point<T>(static_cast<double>(mu[c]), spec.sigma, v);
        if (++c == d) c = 0;
      });
    }
    ws.h.resize(static_cast<std::size_t>(K * J * k_));
    ws.a.resize(static_cast<std::size_t>(K * J));
    ws.e.resize(static_cast<std::size_t>(K * J));
    double m = -kInf;  // the largest exponent, then the state's weights relative to it
    for (std::int64_t s = 0; s < K; ++s)
      for (std::int64_t j = 0; j < J; ++j) {
        T* h = ws.h.data() + (s * J + j) * k_;
        preactivations(w + s * d, ws.x.data() + j * n_, h);
        const T e = relu_residual(h, k_, ws.y[j]);
        const double a = power_exponent(spec.power, static_cast<double>(relu_fitness(e)));
        ws.e[s * J + j] = static_cast<double>(e);
        ws.a[s * J + j] = a;
        m = a > m ? a : m;
      }
    // M_j[i] = sum_s w_sj df/dh_i(s, j), then u[i n + c] = sum_j M_j[i] x_j[c].
    ws.m.assign(static_cast<std::size_t>(J * k_), 0.0);
    LseState lse;
    // M += w_sj df/dh over the pairs, with the weight function of the state's mode.
    auto accumulate = [&](auto weight) {
      for (std::int64_t s = 0; s < K; ++s)
        for (std::int64_t j = 0; j < J; ++j) {
          const double wt = weight(s * J + j);
          lse.s += wt;
          if (wt == 0.0) continue;
          const T* h = ws.h.data() + (s * J + j) * k_;
          const double e = ws.e[s * J + j];
          for (std::int64_t i = 0; i < k_; ++i) ws.m[j * k_ + i] += wt * static_cast<double>(relu_dfdh(static_cast<T>(e), h[i]));
        }
    };
    auto fitness = [&](std::int64_t q) { return static_cast<double>(relu_fitness(static_cast<T>(ws.e[q]))); };
    if (m > -kInf && m < kInf) {
      lse.add_block(m);  // from the empty state: u is still zero
      accumulate([&](std::int64_t q) { return lse.weight(ws.a[q]); });
    } else {  // N f overflowed (or no pair has a weight): lse.hpp's limit rule, weight 1 for the largest f's ties
      double top = -kInf;
      for (std::int64_t q = 0; q < K * J; ++q) top = std::max(top, fitness(q));
      bool counts = false;
      lse.add_limit_block(m, top, counts);  // from the empty state: u is still zero
      if (counts) accumulate([&](std::int64_t q) { return lse.limit_weight(fitness(q)); });
    }
    for (std::int64_t i = 0; i < d; ++i) u[i] = 0.0;
    for (std::int64_t j = 0; j < J; ++j) {
      const T* x = ws.x.data() + j * n_;
      for (std::int64_t i = 0; i < k_; ++i) {
        const double mji = ws.m[j * k_ + i];
        if (mji == 0.0) continue;
        double* ui = u + i * n_;
#pragma omp simd
        for (std::int64_t c = 0; c < n_; ++c) ui[c] = std::fma(mji, static_cast<double>(x[c]), ui[c]);
      }
    }
    parts = PowerState::Parts{lse, K * J, 0};
  }

  // Mean fitness over the batch inputs at P points (P x d).
  void batch_fitness(Workspace& ws, const T* points, std::int64_t P, double* out) const {
    const std::int64_t J = static_cast<std::int64_t>(ws.y.size());
    for (std::int64_t p = 0; p < P; ++p) out[p] = mean_fitness(points + p * dim(), ws.x.data(), ws.y.data(), J);
  }

  double validation(Workspace&, const T* mu) const { return mean_fitness(mu, val_x_, val_y_, nval_); }

  // Test loss: mean squared error on the test set.
  double metric(Workspace&, const T* mu) const { return -mean_fitness(mu, test_x_, test_y_, ntest_); }

 private:
  void preactivations(const T* W, const T* x, T* h) const { relu_preactivations(W, x, k_, n_, h); }
  T label(const T* V, const T* x) const {
    T h[kMaxHidden];
    preactivations(V, x, h);
    return relu_residual(h, k_, T(0));
  }
  double mean_fitness(const T* W, const T* X, const T* Y, std::int64_t count) const {
    T h[kMaxHidden];
    return relu_mean_fitness(W, X, Y, count, k_, n_, h);
  }

 public:
  static constexpr std::int64_t kMaxHidden = 256;

 private:
  const T *teacher_ = nullptr, *val_x_ = nullptr, *val_y_ = nullptr, *test_x_ = nullptr, *test_y_ = nullptr;
  std::int64_t k_ = 0, n_ = 0, nval_ = 0, ntest_ = 0;
};

}  // namespace HOMOTOPT_CPU_NS
