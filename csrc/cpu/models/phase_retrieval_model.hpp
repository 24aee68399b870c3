// Internal: phase retrieval as a runner model (one trial's instance): minibatches of row indices, the
// fused power estimator of cpu/phase_retrieval_kernel.hpp, mean fitness over rows, and the metric.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/capability_namespace.hpp"
#include "cpu/phase_retrieval_kernel.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/runner.hpp"

namespace HOMOTOPT_CPU_NS {

template <class T>
class PhaseRetrievalModel {
 public:
  struct Workspace {
    PanelRows<T> W;  // samples, or the points of batch_fitness
    BlockScratch<T> scratch;
    Partial partial;
    std::vector<std::int64_t> rows;  // the minibatch; empty for the full batch
    std::vector<float> eps;          // the samples' noise
  };

  PhaseRetrievalModel(const ProblemViews& v, std::int64_t trial) {
    const std::int64_t inst = v.batched ? trial : 0;
    const int lead = v.batched ? 1 : 0;
    n_ = v.A.shape[lead];
    d_ = v.A.shape[lead + 1];
    A_ = v.A.ptr<const T>() + inst * n_ * d_;
    y_ = v.y.ptr<const T>() + inst * n_;
    x_ = v.x_true.empty_view() ? nullptr : v.x_true.ptr<const double>() + inst * d_;
  }

  std::int64_t dim() const { return d_; }
  std::int64_t rows() const { return n_; }

  // J row indices with replacement from the minibatch stream; full = every row once (GD).
  void draw_batch(Workspace& ws, const RandomKey& key, std::int64_t J, bool full) const {
    if (full) {
      ws.rows.clear();
      return;
    }
    ws.rows.resize(static_cast<std::size_t>(J));
    std::int64_t* rows = ws.rows.data();
    generate_index_span(0, J, key, 0, static_cast<std::uint64_t>(n_), [rows](std::int64_t j, std::int64_t v) { rows[j] = v; });
  }

  std::int64_t batch_rows(const Workspace& ws) const {
    return ws.rows.empty() ? n_ : static_cast<std::int64_t>(ws.rows.size());
  }

  // The fused estimator over the K samples of `spec` and the batch: parts and u (d entries).
  void power_estimate(Workspace& ws, const T* mu, const SampleSpec& spec, PowerState::Parts& parts,
                      double* u) const {
    draw_samples(mu, d_, spec, ws.W, ws.eps);
    Partial& p = ws.partial;
    p.lse = LseState{};
    p.u.assign(static_cast<std::size_t>(d_), 0.0);
    const std::int64_t J = batch_rows(ws);
    const std::int64_t* rows = ws.rows.empty() ? nullptr : ws.rows.data();
    reduce_rows(ws.scratch, ws.W, A_, y_, [rows](std::int64_t j) { return rows ? rows[j] : j; }, 0, J, spec.power, p);
    for (std::int64_t i = 0; i < d_; ++i) u[i] = p.u[i];
    parts = PowerState::Parts{p.lse, J * spec.num_samples, 0};
  }

  // Mean fitness over the batch rows at P points (P x d, row-major) into out[P].
  void batch_fitness(Workspace& ws, const T* points, std::int64_t P, double* out) const {
    ws.W.assign(points, P, d_);
    const std::int64_t* rows = ws.rows.empty() ? nullptr : ws.rows.data();
    const std::int64_t J = batch_rows(ws);
    for (std::int64_t p = 0; p < P; ++p) out[p] = 0.0;
    fitness_rows(ws.scratch, ws.W, A_, y_, [rows](std::int64_t j) { return rows ? rows[j] : j; }, 0, J, out);
    for (std::int64_t p = 0; p < P; ++p) out[p] /= static_cast<double>(J);
  }

  // Mean fitness over all n measurements.
  double validation(Workspace& ws, const T* mu) const {
    ws.W.assign(mu, 1, d_);
    double sum = 0.0;
    fitness_rows(ws.scratch, ws.W, A_, y_, [](std::int64_t j) { return j; }, 0, n_, &sum);
    return sum / static_cast<double>(n_);
  }

  double metric(Workspace&, const T* mu) const {
    if (!x_) return std::numeric_limits<double>::quiet_NaN();
    return phase_retrieval_metric(mu, x_, d_);
  }

 private:
  const T* A_ = nullptr;
  const T* y_ = nullptr;
  const double* x_ = nullptr;
  std::int64_t n_ = 0, d_ = 0;
};

}  // namespace HOMOTOPT_CPU_NS
