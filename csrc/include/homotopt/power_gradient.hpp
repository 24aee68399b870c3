// The K-sample power gradient (papers/prog_powerhp.md): for fitness values f_kj and gradients
// grad f_kj of K Gaussian samples on J data points,
//     direction = sum_kj softmax(N f)_kj grad f_kj,   log_scale = log N + log mean_kj exp(N f_kj),
// and the paper's g = exp(log_scale) * direction, reduced through the (m, s, u) state of lse.hpp in
// one pass over the gradients: exp(N f) is never formed and no (K, J) weight array is stored.
//
// Shapes: values (K,) or (K, J); grads (K, d) or (K, J, d) with the same dtype (float32 or float64),
// C-contiguous. The state accumulates in float64 whatever the input dtype.
// Values of -inf are allowed: such a pair has weight exactly 0 and its gradient is never read.
// NaN or +inf values, and non-finite gradients of pairs that are read, follow the NanPolicy.
// N f overflowing float64 (either sign) at the largest value gives the N -> infinity limit (lse.hpp).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/lse.hpp"

namespace homotopt {

enum class NanPolicy : int {
  raise = 0,  // a non-finite value or gradient is an error naming the pair
  omit = 1,   // such a pair gets weight 0 and is counted in `omitted`; all omitted is an error
};

struct PowerResultStats {
  double log_scale = -kInf;
  double log_mean_exp = -kInf;
  std::int64_t count = 0;    // pairs in the mean (K J minus the omitted ones)
  std::int64_t omitted = 0;  // pairs omitted under NanPolicy::omit
};

// The mergeable state, held on the host in float64. Streams chunks of samples (update), combines
// partial results from threads or processes (merge), and gives the result at any time.
// Thread-safe: update reduces its chunk without a lock and merges the result under the state's
// mutex, so threads may update (and merge into) one shared state; readers see a consistent state.
class HOMOTOPT_API PowerState {
 public:
  explicit PowerState(std::int64_t dim);

  // Reduces one chunk of pairs into the state. `power` must be the same for every chunk.
  void update(const ArrayView& values, const ArrayView& grads, double power,
              NanPolicy policy = NanPolicy::raise);
  // Merges another state of the same dim and power (either may be empty).
  void merge(const PowerState& other);
  // Writes direction (d,) into `direction` (float32 or float64, on the CPU or a GPU) and, when
  // `gradient` is not empty, the literal gradient; returns the scalars.
  PowerResultStats result(const ArrayView& direction, const ArrayView& gradient = ArrayView{}) const;

  std::int64_t dim() const { return static_cast<std::int64_t>(u_.size()); }  // fixed at construction
  double power() const;
  double max_exponent() const;               // m
  double scaled_sum() const;                 // s
  double limit_top() const;                  // top (lse.hpp's limit mode; -inf otherwise)
  std::int64_t count() const;
  std::int64_t omitted() const;
  std::vector<double> weighted_sum() const;  // u (a copy)
  // Rebuilds a state from its parts (deserialization); checks their consistency.
  static PowerState from_parts(double power, double m, double s, std::int64_t count,
                               std::int64_t omitted, std::vector<double> u, double top = -kInf);

  // Backends fill these directly.
  struct Parts {
    LseState lse;
    std::int64_t count = 0;
    std::int64_t omitted = 0;
  };
  void merge_parts(double power, const Parts& parts, const double* u);
  // power, the parts and u, read together under the lock (for serialization).
  void snapshot(double& power, Parts& parts, std::vector<double>& u) const;

 private:
  // A mutex that copies as a fresh one: states stay copyable and movable.
  struct Mutex {
    mutable std::mutex m;
    Mutex() = default;
    Mutex(const Mutex&) {}
    Mutex& operator=(const Mutex&) { return *this; }
  };
  template <class F>
  void write_output(const ArrayView& out, F&& value) const;

  double power_ = -1.0;  // unset until the first non-empty update or merge
  LseState lse_;
  std::int64_t count_ = 0;
  std::int64_t omitted_ = 0;
  std::vector<double> u_;
  Mutex mutex_;
};

// One-shot form: direction (d,) and, optionally, the literal gradient (d,) of the inputs' dtype.
HOMOTOPT_API PowerResultStats power_gradient(const ArrayView& values, const ArrayView& grads,
                                             double power, NanPolicy policy,
                                             const ArrayView& direction,
                                             const ArrayView& gradient = ArrayView{});

// Normalized weights softmax(N f) of values' shape into `weights` (same shape and dtype); returns
// log sum exp(N f) over the counted pairs. Omitted pairs get weight 0.
struct PowerWeightsStats {
  double log_sum_exp = -kInf;
  std::int64_t count = 0;
  std::int64_t omitted = 0;
};
HOMOTOPT_API PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                             const ArrayView& weights);

}  // namespace homotopt
