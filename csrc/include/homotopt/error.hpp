// Errors. Two kinds of check, as in FAISS, but neither aborts:
//  * HOMOTOPT_CHECK / HOMOTOPT_CHECK_TYPE: bad user input. Throws homotopt::Error (a std::invalid_argument;
//    Python sees ValueError) or homotopt::TypeError (Python sees TypeError). The message names the
//    argument and says expected versus got: "grads: expected shape (K, d) = (8, 3), got (8, 4)".
//  * HOMOTOPT_ASSERT: an internal invariant. Throws homotopt::InternalError (Python: RuntimeError) with
//    file and line, because it is a bug in homotopt, not in the caller's input.
// Host code only: device code reports through status words (see cuda/launch.cuh).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "homotopt/macros.hpp"

namespace homotopt {

class HOMOTOPT_API Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class HOMOTOPT_API TypeError : public Error {
 public:
  using Error::Error;
};

class HOMOTOPT_API InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// A failed CUDA runtime call or kernel launch (Python: RuntimeError).
class HOMOTOPT_API CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace homotopt

#define HOMOTOPT_CHECK(cond, ...)                                          \
  do {                                                                     \
    if (!(cond)) throw ::homotopt::Error(::homotopt::detail::concat(__VA_ARGS__)); \
  } while (0)

#define HOMOTOPT_CHECK_TYPE(cond, ...)                                         \
  do {                                                                         \
    if (!(cond)) throw ::homotopt::TypeError(::homotopt::detail::concat(__VA_ARGS__)); \
  } while (0)

#define HOMOTOPT_ASSERT(cond)                                                          \
  do {                                                                                 \
    if (!(cond))                                                                       \
      throw ::homotopt::InternalError(::homotopt::detail::concat(                      \
          "homotopt internal error at ", __FILE__, ":", __LINE__, ": ", #cond));       \
  } while (0)
