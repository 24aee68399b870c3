// Prog-PowerHP on a C++ objective with its own gradient, through the installed homotopt package:
// minimize the Rastrigin function f(x) = 10 d + sum (x_i^2 - 10 cos(2 pi x_i)) on [-5.12, 5.12]^d
// (global minimum 0 at x = 0, about 10^d local minima) with R = 8 independent runs in one optimizer.
// Settings: the scale-free power, the "sigma" step rule and sigma decaying to ~0 over the budget
// (docs/tuning.md). Checks: every iterate stayed in the box, the run converged (the last step is tiny)
// and the best run got below the best of the random starting points by a wide margin.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "homotopt/homotopt.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;

// Value and gradient at one point x (d numbers); the gradient goes to g.
double rastrigin(const double* x, double* g, int d) {
  double f = 10.0 * d;
  for (int i = 0; i < d; ++i) {
    f += x[i] * x[i] - 10.0 * std::cos(2.0 * kPi * x[i]);
    g[i] = 2.0 * x[i] + 20.0 * kPi * std::sin(2.0 * kPi * x[i]);
  }
  return f;
}

}  // namespace

int main() {
  const int d = 5, R = 8, K = 16, steps = 1500;
  const double lo = -5.12, hi = 5.12, width = hi - lo;

  homotopt::AskTellConfig c;
  c.dim = d;
  c.num_samples = K;
  c.runs = R;
  c.maximize = false;  // values are losses
  c.scale_free = true;
  c.power = homotopt::PowerSchedule{0.3, 0.0, homotopt::kInf, 1};
  c.sigma = homotopt::sigma_to(0.3 * width, 1e-7 * width, steps);
  c.lr = homotopt::LearningRate{0.5, -0.5, 1.0};  // constant: the step is 0.5 sampling radii
  c.step_rule = homotopt::AskTellStep::sigma;
  c.bounds = homotopt::Bounds::reflect;
  c.lower.assign(d, lo);
  c.upper.assign(d, hi);
  c.seed = 7;

  std::vector<double> mu0(R * d);
  homotopt::random_fill(homotopt::make_view(mu0.data(), {R, d}), homotopt::Distribution::uniform,
                        homotopt::RandomKey{c.seed, static_cast<std::uint32_t>(homotopt::RandomStream::start)});
  for (double& x : mu0) x = lo + width * x;
  std::vector<double> g0(d);
  double start_best = homotopt::kInf;
  for (int r = 0; r < R; ++r) start_best = std::min(start_best, rastrigin(&mu0[r * d], g0.data(), d));

  homotopt::ProgPowerHP opt(c, mu0.data(), static_cast<std::int64_t>(mu0.size()));
  std::vector<double> samples(R * K * d), values(R * K), grads(R * K * d);
  bool in_box = true;
  for (int t = 0; t < steps; ++t) {
    opt.ask(samples.data());
    for (int i = 0; i < R * K; ++i) {
      for (int j = 0; j < d; ++j) in_box = in_box && samples[i * d + j] >= lo && samples[i * d + j] <= hi;
      values[i] = rastrigin(&samples[i * d], &grads[i * d], d);
    }
    opt.tell(values.data(), grads.data(), /*batch J=*/1);
  }

  const std::vector<double> best = opt.best_value();
  double overall = homotopt::kInf, last_step = 0.0;
  for (int r = 0; r < R; ++r) {
    overall = std::min(overall, best[r]);
    last_step = std::max(last_step, opt.last()[r].step_norm);
    std::printf("run %d: best f = %.3e (step %lld)\n", r, best[r],
                static_cast<long long>(opt.state().best_step[r]));
  }
  std::printf("d = %d, %lld evaluations: best f = %.3e (random starts: %.3g), last step %.2e, sigma %.2e\n", d,
              static_cast<long long>(opt.evaluations()), overall, start_best, last_step, opt.sigma());
  const bool ok = in_box && last_step < 1e-4 && overall < 0.1 * start_best && overall < 2.0;
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
