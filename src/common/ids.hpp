#pragma once

#include <string>
#include <string_view>

namespace exo {

// `n` bytes from the kernel's CSPRNG (getrandom). Every id and WebSocket mask key comes from here:
// ids route replies and name gateway sessions, so they must not be guessable.
void random_bytes(void* out, size_t n);
// A random RFC 4122 version-4 UUID in its canonical lower-case form.
std::string new_uuid();
// Lower-case hex of `n` random bytes.
std::string random_hex(size_t n);
// The first `digits` (at most 16) lower-case hex digits of a stable 64-bit hash (FNV-1a) of `text`:
// the same on every machine and release, for names derived from content.
std::string stable_hash_hex(std::string_view text, size_t digits);
// Whether `given` is `secret` (a token), compared in constant time; an empty secret matches nothing.
bool same_secret(std::string_view given, std::string_view secret);

}  // namespace exo
