// Internal: what a backend's runner implements behind homotopt::Runner (runner.cpp checks and
// dispatches; cpu/runner.cpp is the CPU backend).
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

namespace cpu {
std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config,
                                        const ArrayView& mu0);
}  // namespace cpu

#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
// Prog-PowerHP on phase retrieval with A and y on a GPU (mu0 and x_true on the host).
std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config,
                                        const ArrayView& mu0);
}  // namespace cuda
#endif

}  // namespace homotopt
