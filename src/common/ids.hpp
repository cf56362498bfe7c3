#pragma once

#include <string>

namespace exo {

// A random RFC 4122 version-4 UUID in its canonical lower-case form.
std::string new_uuid();
// Lower-case hex of `n` random bytes.
std::string random_hex(size_t n);

}  // namespace exo
