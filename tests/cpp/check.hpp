// A minimal test harness for the C++ tests (no external framework): TEST(name) registers a case,
// CHECK(cond) and CHECK_NEAR(a, b, tol) record failures with file and line, main() runs every case
// and returns non-zero when any check failed. ctest runs each executable.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace homotopt_test {

struct Case {
  const char* name;
  std::function<void()> run;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int n = 0;
  return n;
}
struct Register {
  Register(const char* name, std::function<void()> run) { cases().push_back({name, std::move(run)}); }
};
inline void fail(const char* file, int line, const std::string& what) {
  std::printf("  FAILED %s:%d: %s\n", file, line, what.c_str());
  ++failures();
}

}  // namespace homotopt_test

#define HT_CONCAT2(a, b) a##b
#define HT_CONCAT(a, b) HT_CONCAT2(a, b)
#define TEST(name)                                                                   \
  static void name();                                                                \
  static const homotopt_test::Register HT_CONCAT(register_, name)(#name, &name);     \
  static void name()
#define CHECK(cond) \
  ((cond) ? (void)0 : homotopt_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"))
#define CHECK_NEAR(a, b, tol)                                                                              \
  do {                                                                                                     \
    const double ht_a = (a), ht_b = (b);                                                                   \
    if (!(std::fabs(ht_a - ht_b) <= (tol)))                                                                \
      homotopt_test::fail(__FILE__, __LINE__,                                                              \
                          std::string(#a " = ") + std::to_string(ht_a) + ", " #b " = " + std::to_string(ht_b)); \
  } while (0)
// Checks that `expr` throws E whose message contains `text`.
#define CHECK_THROWS(E, expr, text)                                                                        \
  do {                                                                                                     \
    bool ht_thrown = false;                                                                                \
    try {                                                                                                  \
      expr;                                                                                                \
    } catch (const E& e) {                                                                                 \
      ht_thrown = std::string(e.what()).find(text) != std::string::npos;                                   \
      if (!ht_thrown) homotopt_test::fail(__FILE__, __LINE__, std::string("message: ") + e.what());       \
      ht_thrown = true;                                                                                    \
    }                                                                                                      \
    if (!ht_thrown) homotopt_test::fail(__FILE__, __LINE__, "no " #E " from " #expr);                      \
  } while (0)

#define TEST_MAIN()                                                      \
  int main() {                                                           \
    for (const auto& c : homotopt_test::cases()) {                       \
      const int before = homotopt_test::failures();                      \
      c.run();                                                           \
      std::printf("%s %s\n", homotopt_test::failures() == before ? "ok  " : "FAIL", c.name); \
    }                                                                    \
    return homotopt_test::failures() == 0 ? 0 : 1;                       \
  }
