#include "common/ids.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>

namespace exo {

namespace {
std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

std::string random_hex(size_t n) {
  std::string out(n * 2, '0');
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i % 8 == 0) bits = generator()();
    auto byte = static_cast<unsigned>(bits & 0xff);
    bits >>= 8;
    out[2 * i] = kHex[byte >> 4];
    out[2 * i + 1] = kHex[byte & 0xf];
  }
  return out;
}

std::string new_uuid() {
  uint64_t hi = generator()(), lo = generator()();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                           // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;   // RFC 4122 variant
  std::string out(36, '-');
  size_t pos = 0;
  auto put = [&](uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (out[pos] == '-' && (pos == 8 || pos == 13 || pos == 18 || pos == 23)) ++pos;
      out[pos++] = kHex[(v >> (i * 4)) & 0xf];
    }
  };
  put(hi, 16);
  put(lo, 16);
  return out;
}


std::string stable_hash_hex(std::string_view text, size_t digits) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, std::min<size_t>(digits, 16));
}

}  // namespace exo
