// philox.hpp against the published known-answer vectors of Philox4x32-10 (Random123's kat_vectors:
// counter and key all zeros, all ones, and the digits of pi).
#include <cstdint>

#include "check.hpp"
#include "homotopt/philox.hpp"

namespace {

bool equals(const homotopt::PhiloxBlock& b, std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3) {
  return b.w[0] == w0 && b.w[1] == w1 && b.w[2] == w2 && b.w[3] == w3;
}

}  // namespace

TEST(zeros) {
  const homotopt::PhiloxBlock b = homotopt::philox4x32_10(homotopt::PhiloxBlock{{0, 0, 0, 0}}, 0, 0);
  CHECK(equals(b, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u));
}

TEST(ones) {
  const std::uint32_t f = 0xffffffffu;
  const homotopt::PhiloxBlock b = homotopt::philox4x32_10(homotopt::PhiloxBlock{{f, f, f, f}}, f, f);
  CHECK(equals(b, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu));
}

TEST(pi_digits) {
  const homotopt::PhiloxBlock b = homotopt::philox4x32_10(
      homotopt::PhiloxBlock{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
  CHECK(equals(b, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u));
}

TEST_MAIN()
