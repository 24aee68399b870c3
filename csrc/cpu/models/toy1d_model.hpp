// Internal: the 1-D example as a runner model (problems/toy1d.hpp). d = 1, float64. Data eps ~ N(0,
// noise^2) fresh each step (none when noise = 0); validation on fixed draws (or eps = 0 without
// noise); metric |mu - w*|.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/capability_namespace.hpp"
#include "homotopt/lse.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/problems/toy1d.hpp"
#include "homotopt/runner.hpp"
#include "homotopt/sample.hpp"

namespace HOMOTOPT_CPU_NS {

class Toy1DModel {
 public:
  struct Workspace {
    std::vector<double> eps, w, a;
  };

  Toy1DModel(const ProblemViews& v, std::int64_t /*trial*/)
      : noise_(v.noise),
        val_(v.val_x.empty_view() ? nullptr : v.val_x.ptr<const double>()),
        nval_(v.val_x.empty_view() ? 0 : v.val_x.shape[0]),
        w_star_(v.x_true.ptr<const double>()[0]) {}

  std::int64_t dim() const { return 1; }

  void draw_batch(Workspace& ws, const RandomKey& key, std::int64_t J, bool /*full*/) const {
    ws.eps.resize(static_cast<std::size_t>(J));
    for (std::int64_t j = 0; j < J; ++j) ws.eps[j] = noise_ > 0.0 ? noise_ * normal_at(key, j) : 0.0;
  }

  void power_estimate(Workspace& ws, const double* mu, const SampleSpec& spec, PowerState::Parts& parts,
                      double* u) const {
    const std::int64_t K = spec.num_samples, J = static_cast<std::int64_t>(ws.eps.size());
    ws.w.resize(static_cast<std::size_t>(K));
    ws.a.resize(static_cast<std::size_t>(K * J));
    double m = -kInf;
    for (std::int64_t k = 0; k < K; ++k) {
      ws.w[k] = spec.sigma == 0.0 ? mu[0] : sample_point<double>(mu[0], spec.sigma, normal_at(spec.key, k));
      for (std::int64_t j = 0; j < J; ++j) {
        const double a = power_exponent(spec.power, homotopt::toy1d_fitness(ws.w[k], ws.eps[j]));
        ws.a[k * J + j] = a;
        m = a > m ? a : m;
      }
    }
    LseState lse;
    double acc = 0.0;
    if (m > -kInf && m < kInf) {
      lse.add_block(m);  // from the empty state: u is still zero
      for (std::int64_t k = 0; k < K; ++k)
        for (std::int64_t j = 0; j < J; ++j) {
          const double wt = lse.weight(ws.a[k * J + j]);
          lse.s += wt;
          if (wt > 0.0) acc += wt * toy1d_derivative(ws.w[k], ws.eps[j]);
        }
    } else {  // N f overflowed: lse.hpp's limit rule (weight 1 for the ties of the largest f), or no weight
      double top = -kInf;
      for (std::int64_t k = 0; k < K; ++k)
        for (std::int64_t j = 0; j < J; ++j) top = std::max(top, homotopt::toy1d_fitness(ws.w[k], ws.eps[j]));
      bool counts = false;
      lse.add_limit_block(m, top, counts);  // from the empty state: u is still zero
      if (counts)
        for (std::int64_t k = 0; k < K; ++k)
          for (std::int64_t j = 0; j < J; ++j) {
            if (lse.limit_weight(homotopt::toy1d_fitness(ws.w[k], ws.eps[j])) == 0.0) continue;
            lse.s += 1.0;
            acc += toy1d_derivative(ws.w[k], ws.eps[j]);
          }
    }
    u[0] = acc;
    parts = PowerState::Parts{lse, K * J, 0};
  }

  void batch_fitness(Workspace& ws, const double* points, std::int64_t P, double* out) const {
    const std::int64_t J = static_cast<std::int64_t>(ws.eps.size());
    for (std::int64_t p = 0; p < P; ++p) {
      double sum = 0.0;
      for (std::int64_t j = 0; j < J; ++j) sum += homotopt::toy1d_fitness(points[p], ws.eps[j]);
      out[p] = sum / static_cast<double>(J);
    }
  }

  double validation(Workspace&, const double* mu) const {
    if (nval_ == 0) return homotopt::toy1d_fitness(mu[0], 0.0);
    double sum = 0.0;
    for (std::int64_t j = 0; j < nval_; ++j) sum += homotopt::toy1d_fitness(mu[0], val_[j]);
    return sum / static_cast<double>(nval_);
  }

  double metric(Workspace&, const double* mu) const { return std::fabs(mu[0] - w_star_); }

 private:
  double noise_;
  const double* val_;
  std::int64_t nval_;
  double w_star_;
};

}  // namespace HOMOTOPT_CPU_NS
