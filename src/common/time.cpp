#include "common/time.hpp"

#include <ctime>

#include <fmt/format.h>

namespace exo {

std::string rfc3339_nanos(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  long frac = static_cast<long>(ns % 1'000'000'000);
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string human_duration(std::chrono::nanoseconds d) {
  double ns = static_cast<double>(d.count());
  if (ns < 1e3) return fmt::format("{}ns", d.count());
  if (ns < 1e6) return fmt::format("{:.3g}µs", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g}ms", ns / 1e6);
  return fmt::format("{:.3g}s", ns / 1e9);
}

}  // namespace exo
