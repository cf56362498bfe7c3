#pragma once

// Threads that never take the signals asking a process to stop. A process-wide SIGTERM goes to any
// one thread that does not block it; a library thread with the default action would kill the
// process on the spot (or, as PID 1 of a container, drop the signal), so the thread waiting for it
// (sigwait) never learns of it. Every thread a library starts is started with these blocked.
#include <signal.h>

#include <chrono>
#include <string_view>
#include <thread>
#include <utility>

namespace exo {

// The one bound on a stop (docs/architecture.md, "Stopping"): a process of Exosphere that gets
// SIGTERM has exited within EXOSPHERE_STOP_TIMEOUT; whoever stops it kills it a second later.
inline constexpr const char* kStopTimeoutVariable = "EXOSPHERE_STOP_TIMEOUT";
inline constexpr std::chrono::milliseconds kDefaultStopTimeout{5000};
inline constexpr std::chrono::milliseconds kStopMargin{1000};

// Seconds ("5", "2.5", "5s") or milliseconds ("500ms"), more than 0 and at most an hour; throws
// UserError naming the variable.
std::chrono::milliseconds parse_stop_timeout(std::string_view text);
// EXOSPHERE_STOP_TIMEOUT parsed, kDefaultStopTimeout when unset or empty.
std::chrono::milliseconds stop_timeout_from_environment();

// SIGINT, SIGTERM, SIGHUP and SIGQUIT.
sigset_t stop_signals();

// Blocks the stop signals in the calling thread while it lives; threads started meanwhile
// (std::thread, an asio::thread_pool) inherit the mask.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked();
  ~StopSignalsBlocked();
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

// A thread that never takes a stop signal, whatever the caller's mask.
template <typename F>
std::thread quiet_thread(F&& f) {
  StopSignalsBlocked blocked;
  return std::thread(std::forward<F>(f));
}

}  // namespace exo
