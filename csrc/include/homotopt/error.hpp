// Errors. Two kinds of check, as in FAISS, but neither aborts:
//  * HOMOTOPT_CHECK / HOMOTOPT_CHECK_TYPE: bad user input. Throws homotopt::Error (a std::invalid_argument;
//    Python sees ValueError) or homotopt::TypeError (Python sees TypeError). The message names the
//    argument and says expected versus got: "grads: expected shape (K, d) = (8, 3), got (8, 4)".
//  * HOMOTOPT_ASSERT: an internal invariant. Throws homotopt::InternalError (Python: RuntimeError) with
//    file and line, because it is a bug in homotopt, not in the caller's input.
// Host code only: device code reports through status words (see cuda/launch.cuh).
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>

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
// Messages are built with snprintf, not iostreams: no C++ locale is touched, so a message can be made
// even in a module whose libstdc++ copy never set its locale up (a static libstdc++ beside the
// process's shared one crashes in ostream's number formatting). Numbers print as ostream prints them.
inline void append(std::string& out, const std::string& s) { out += s; }
inline void append(std::string& out, const char* s) { out += s; }
inline void append(std::string& out, char c) { out += c; }
template <class T>
void append(std::string& out, T value) {
  static_assert(std::is_arithmetic_v<T>, "concat takes strings and numbers");
  char buffer[32];
  if constexpr (std::is_floating_point_v<T>)
    std::snprintf(buffer, sizeof buffer, "%g", static_cast<double>(value));
  else if constexpr (std::is_signed_v<T>)
    std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
  else
    std::snprintf(buffer, sizeof buffer, "%llu", static_cast<unsigned long long>(value));
  out += buffer;
}

template <class... Args>
std::string concat(const Args&... args) {
  std::string out;
  (append(out, args), ...);
  return out;
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
