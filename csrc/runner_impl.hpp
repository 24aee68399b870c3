// Internal: what a backend's runner implements behind homotopt::Runner (runner.cpp checks, the table's
// make_runner builds one: cpu/runner.cpp, cuda/runner.cu).
#pragma once

#include <cstdint>
#include <memory>

#include "homotopt/runner.hpp"

namespace homotopt {

class RunnerImpl {
 public:
  virtual ~RunnerImpl() = default;
  virtual void advance(std::int64_t steps) = 0;
  virtual void state(const ArrayView& mu, const ArrayView& best_mu, const ArrayView& best_value,
                     const ArrayView& best_step) const = 0;

  std::int64_t t = 0, trials = 0, dim = 0;
  DType dtype = DType::float64;
  RunHistory history;
};

}  // namespace homotopt
