#include "common/ids.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/error.hpp"

namespace exo {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bumped in every forked child, so a child never reuses random bytes its parent buffered.
std::atomic<uint64_t> fork_generation{0};

void fill_from_kernel(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = ::getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      bug("getrandom failed", __FILE__, __LINE__);
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

// A per-thread buffer saves one system call per id; the bytes still come from the kernel's CSPRNG.
struct Pool {
  uint8_t bytes[256];
  size_t used = sizeof bytes;
  uint64_t generation = 0;
};

}  // namespace

void random_bytes(void* out, size_t n) {
  static const int registered = pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  (void)registered;
  thread_local Pool pool;
  auto* dst = static_cast<uint8_t*>(out);
  if (n > sizeof pool.bytes / 2) return fill_from_kernel(dst, n);
  uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (pool.generation != generation) {
    pool.used = sizeof pool.bytes;
    pool.generation = generation;
  }
  while (n > 0) {
    if (pool.used == sizeof pool.bytes) {
      fill_from_kernel(pool.bytes, sizeof pool.bytes);
      pool.used = 0;
    }
    size_t take = std::min(n, sizeof pool.bytes - pool.used);
    std::memcpy(dst, pool.bytes + pool.used, take);
    std::memset(pool.bytes + pool.used, 0, take);  // bytes handed out are not kept
    pool.used += take;
    dst += take;
    n -= take;
  }
}

std::string random_hex(size_t n) {
  std::string out(n * 2, '0');
  uint8_t chunk[32];
  for (size_t i = 0; i < n; ++i) {
    if (i % sizeof chunk == 0) random_bytes(chunk, std::min(sizeof chunk, n - i));
    uint8_t byte = chunk[i % sizeof chunk];
    out[2 * i] = kHex[byte >> 4];
    out[2 * i + 1] = kHex[byte & 0xf];
  }
  return out;
}

std::string new_uuid() {
  uint8_t b[16];
  random_bytes(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xf];
  }
  return out;
}

std::string stable_hash_hex(std::string_view text, size_t digits) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, std::min<size_t>(digits, 16));
}

bool same_secret(std::string_view given, std::string_view secret) {
  if (secret.empty() || given.size() != secret.size()) return false;
  unsigned char differ = 0;
  for (size_t i = 0; i < secret.size(); ++i) differ |= static_cast<unsigned char>(given[i] ^ secret[i]);
  return differ == 0;
}

}  // namespace exo
