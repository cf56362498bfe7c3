#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace exo {

using Clock = std::chrono::steady_clock;

// RFC 3339 UTC with nanoseconds, e.g. 2017-12-08T18:01:02.123456789Z (the ExoCom envelope form).
std::string rfc3339_nanos(std::chrono::system_clock::time_point t);
// A duration the way people read it: 850ns, 12.3µs, 1.24ms, 2.5s.
std::string human_duration(std::chrono::nanoseconds d);

}  // namespace exo
