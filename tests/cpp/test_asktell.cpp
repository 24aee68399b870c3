// asktell.hpp through the C++ API: minimizing equals ascent on the negated values, the "sigma" rule's
// step size, a rejected tell leaves the state untouched, bounds, and the constructor's messages.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "check.hpp"
#include "homotopt/asktell.hpp"

using namespace homotopt;

namespace {

AskTellConfig config(bool maximize) {
  AskTellConfig c;
  c.dim = 3;
  c.num_samples = 4;
  c.runs = 2;
  c.maximize = maximize;
  c.sigma = SigmaSchedule{0.3, 1.0, 0.0};
  c.lr = LearningRate{0.1, -0.5, 1.0};
  c.seed = 11;
  return c;
}

// f(w) = ||w||^2 at every sample: values R x K x 1, grads R x K x 1 x d.
void sphere(const std::vector<double>& w, std::vector<double>& f, std::vector<double>& g, double sign) {
  const std::size_t n = f.size(), d = w.size() / n;
  for (std::size_t i = 0; i < n; ++i) {
    f[i] = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      f[i] += sign * w[i * d + j] * w[i * d + j];
      g[i * d + j] = sign * 2.0 * w[i * d + j];
    }
  }
}

}  // namespace

TEST(minimize_equals_ascent_on_negated_values) {
  const double mu0[3] = {1.0, -0.5, 2.0};
  ProgPowerHP a(config(false), mu0, 3), b(config(true), mu0, 3);
  std::vector<double> w(2 * 4 * 3), f(8), g(24);
  for (int t = 0; t < 5; ++t) {
    a.ask(w.data());
    sphere(w, f, g, 1.0);
    a.tell(f.data(), g.data(), 1);
    sphere(w, f, g, -1.0);
    b.tell(f.data(), g.data(), 1);
  }
  for (std::size_t i = 0; i < a.mu().size(); ++i) CHECK(a.mu()[i] == b.mu()[i]);
  CHECK(a.best_value()[0] == -b.best_value()[0]);
  CHECK(a.evaluations() == 40 && a.step() == 5);
}

TEST(sigma_rule_moves_lr_sigma) {
  AskTellConfig c = config(false);
  c.step_rule = AskTellStep::sigma;
  const double mu0[3] = {1.0, 1.0, 1.0};
  ProgPowerHP o(c, mu0, 3);
  std::vector<double> w(24), f(8), g(24);
  o.ask(w.data());
  sphere(w, f, g, 1.0);
  o.tell(f.data(), g.data(), 1);
  for (int r = 0; r < 2; ++r) {
    double s2 = 0.0;
    for (int i = 0; i < 3; ++i) s2 += (o.mu()[r * 3 + i] - 1.0) * (o.mu()[r * 3 + i] - 1.0);
    CHECK_NEAR(std::sqrt(s2), 0.1 * 0.3, 1e-15);
  }
}

TEST(rejected_tell_leaves_state_untouched) {
  AskTellConfig c = config(false);
  c.scale_free = true;
  const double mu0[3] = {1.0, 1.0, 1.0};
  ProgPowerHP o(c, mu0, 3);
  std::vector<double> w(24), f(8), g(24);
  o.ask(w.data());
  sphere(w, f, g, 1.0);
  o.tell(f.data(), g.data(), 1);
  const AskTellState before = o.state();
  o.ask(w.data());
  sphere(w, f, g, 1.0);
  f[6] = std::numeric_limits<double>::quiet_NaN();  // run 1
  CHECK_THROWS(Error, o.tell(f.data(), g.data(), 1), "");
  const AskTellState& after = o.state();
  CHECK(after.step == before.step && after.evaluations == before.evaluations);
  CHECK(after.mu == before.mu && after.spread == before.spread && after.best_mu == before.best_mu);
}

TEST(bounds_reflect_samples_and_clip_iterates) {
  AskTellConfig c = config(false);
  c.sigma = SigmaSchedule{5.0, 1.0, 0.0};
  c.lr = LearningRate{10.0, -0.5, 1.0};
  c.bounds = Bounds::reflect;
  c.lower = {-1.0, -1.0, 0.0};
  c.upper = {1.0, 1.0, 0.5};
  const double mu0[3] = {0.5, 0.5, 0.25};
  ProgPowerHP o(c, mu0, 3);
  std::vector<double> w(24), f(8), g(24);
  for (int t = 0; t < 5; ++t) {
    o.ask(w.data());
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(w[i] >= c.lower[i % 3] && w[i] <= c.upper[i % 3]);
    sphere(w, f, g, -1.0);  // a loss that pushes outward
    o.tell(f.data(), g.data(), 1);
    for (std::size_t i = 0; i < o.mu().size(); ++i) CHECK(o.mu()[i] >= c.lower[i % 3] && o.mu()[i] <= c.upper[i % 3]);
  }
}

TEST(constructor_messages) {
  const double mu0[3] = {0.0, 0.0, 0.0};
  AskTellConfig c = config(true);
  c.num_samples = 0;
  CHECK_THROWS(Error, ProgPowerHP(c, mu0, 3), "num_samples");
  c = config(true);
  CHECK_THROWS(Error, ProgPowerHP(c, mu0, 2), "mu0: expected d = 3");
  c.bounds = Bounds::clip;
  c.lower = {0.0, 0.0, 0.0};
  c.upper = {1.0, -1.0, 1.0};
  CHECK_THROWS(Error, ProgPowerHP(c, mu0, 3), "lower, upper");
  c = config(true);
  c.spread_decay = 1.0;
  CHECK_THROWS(Error, ProgPowerHP(c, mu0, 3), "spread_decay");
}

TEST_MAIN()
