// Front end of the schedules (schedule.hpp): each field checked once, with the message Python shows.
#include <cmath>

#include "homotopt/error.hpp"
#include "homotopt/schedule.hpp"

namespace homotopt {
namespace {

void check_finite_at_least(double v, double lo, const char* name, const char* what) {
  HOMOTOPT_CHECK(std::isfinite(v) && v >= lo, name, ": expected ", what, ", got ", v);
}

}  // namespace

void check_schedule(const PowerSchedule& s) {
  check_finite_at_least(s.start, 0.0, "power.start", "a finite N_0 >= 0");
  check_finite_at_least(s.increment, 0.0, "power.increment", "a finite increment >= 0");
  HOMOTOPT_CHECK(s.max >= 0.0, "power.max: expected a value >= 0 (inf for no cap), got ", s.max);  // false for NaN
  HOMOTOPT_CHECK(s.every >= 1, "power.every: expected >= 1, got ", s.every);
}

void check_schedule(const SigmaSchedule& s) {
  HOMOTOPT_CHECK(std::isfinite(s.start) && s.start > 0.0, "sigma.start: expected a finite sigma_0 > 0, got ", s.start);
  HOMOTOPT_CHECK(s.decay > 0.0 && s.decay <= 1.0, "sigma.decay: expected 0 < decay <= 1, got ", s.decay);
  check_finite_at_least(s.floor, 0.0, "sigma.floor", "a finite floor >= 0");
}

void check_schedule(const LearningRate& s) {
  HOMOTOPT_CHECK(std::isfinite(s.base) && s.base > 0.0, "lr.base: expected a finite rate > 0, got ", s.base);
  check_finite_at_least(s.gamma, -0.5, "lr.gamma", "a finite gamma >= -1/2");
  HOMOTOPT_CHECK(std::isfinite(s.offset) && s.offset > 0.0, "lr.offset: expected a finite offset > 0, got ", s.offset);
}

}  // namespace homotopt
