#include "common/signals.hpp"

#include <pthread.h>

#include <cstdlib>
#include <string>

#include "common/error.hpp"

namespace exo {

std::chrono::milliseconds stop_timeout_from_environment() {
  const char* text = std::getenv("EXOSPHERE_STOP_TIMEOUT");
  if (!text || !*text) return std::chrono::milliseconds(5000);
  char* end = nullptr;
  double seconds = std::strtod(text, &end);
  if (*end || !(seconds > 0) || seconds > 3600)
    throw UserError(std::string("EXOSPHERE_STOP_TIMEOUT '") + text +
                    "' is not a number of seconds (more than 0, at most 3600); unset it for the default of 5");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
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
