// The schedules of Prog-PowerHP (papers/prog_powerhp.md), one definition for every backend and for
// Python's plotting (homotopt.PowerSchedule.values() calls these). Steps count t = 0, 1, ...
//   power N_t     = min(start + increment * floor(t / every), max)
//   sigma_t       = start * decay^t + floor
//   learning rate = base * (t + offset)^-(1/2 + gamma)   (gamma = -1/2 gives a constant rate)
#pragma once

#include <cmath>
#include <cstdint>

#include "homotopt/lse.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

struct PowerSchedule {
  double start = 1.0;
  double increment = 0.0;
  double max = kInf;
  std::int64_t every = 1;
  HOMOTOPT_HD double at(std::int64_t t) const {
    const double n = start + increment * static_cast<double>(t / every);
    return n < max ? n : max;
  }
};

struct SigmaSchedule {
  double start = 1.0;
  double decay = 1.0;
  double floor = 0.0;
  HOMOTOPT_HD double at(std::int64_t t) const {
    return start * ::pow(decay, static_cast<double>(t)) + floor;
  }
};

struct LearningRate {
  double base = 1.0;
  double gamma = 0.0;
  double offset = 1.0;
  HOMOTOPT_HD double at(std::int64_t t) const {
    return base * ::pow(static_cast<double>(t) + offset, -(0.5 + gamma));  // pow(x, 0) = 1 exactly
  }
};

// The argument checks of each schedule (csrc/schedule.cpp), once: homotopt::Error naming the field,
// e.g. "power.start: expected a finite N_0 >= 0, got -1". The runner and the Python classes call these.
HOMOTOPT_API void check_schedule(const PowerSchedule& s);
HOMOTOPT_API void check_schedule(const SigmaSchedule& s);
HOMOTOPT_API void check_schedule(const LearningRate& s);

}  // namespace homotopt
