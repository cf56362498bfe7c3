#include "common/signals.hpp"

#include <pthread.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "common/error.hpp"

namespace exo {

std::chrono::milliseconds parse_stop_timeout(std::string_view text) {
  std::string number(text);
  double unit = 1000;
  if (number.ends_with("ms")) {
    unit = 1;
    number.resize(number.size() - 2);
  } else if (number.ends_with("s")) {
    number.resize(number.size() - 1);
  }
  char* end = nullptr;
  double value = number.empty() || std::isspace(static_cast<unsigned char>(number[0])) ? 0 : std::strtod(number.c_str(), &end);
  double ms = value * unit;
  if (!end || *end || !(ms >= 1) || ms > 3600e3)
    throw UserError(std::string(kStopTimeoutVariable) + "=" + std::string(text) +
                    ": expected a number of seconds, more than 0 and at most 3600 (like 5, 2.5, 5s or 500ms)");
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

std::chrono::milliseconds stop_timeout_from_environment() {
  const char* text = std::getenv(kStopTimeoutVariable);
  return text && *text ? parse_stop_timeout(text) : kDefaultStopTimeout;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
  return set;
}

StopSignalsBlocked::StopSignalsBlocked() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, &previous_);
}

StopSignalsBlocked::~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace exo
