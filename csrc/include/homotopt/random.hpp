// Arrays of random numbers from the Philox streams of philox.hpp. Element i of `out` receives number
// offset + i of the stream at `key`, so any slice of a stream can be rebuilt on its own (this is how
// homotopt.random exposes the exact noise of the runners and estimators to Python and to tests).
#pragma once

#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/philox.hpp"

namespace homotopt {

enum class Distribution : int { normal = 0, uniform = 1, exponential = 2 };

// out: float32 or float64, C-contiguous, writable, any shape. Numbers are formed in float64 and rounded.
HOMOTOPT_API void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                              std::uint64_t offset = 0);

// out: int64, C-contiguous, writable: integers in [0, n), 1 <= n <= 2^32.
HOMOTOPT_API void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key,
                                 std::uint64_t offset = 0);

}  // namespace homotopt
