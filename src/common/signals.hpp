#pragma once

// Threads that never take the signals asking a process to stop. A process-wide SIGTERM goes to any
// one thread that does not block it; a library thread with the default action would kill the
// process on the spot (or, as PID 1 of a container, drop the signal), so the thread waiting for it
// (sigwait) never learns of it. Every thread a library starts is started with these blocked.
#include <signal.h>

#include <chrono>
#include <thread>
#include <utility>

namespace exo {

// The one bound on a stop (docs/architecture.md, "Stopping"): EXOSPHERE_STOP_TIMEOUT, in seconds
// (a decimal number, more than 0, at most 3600), 5 when unset. A process of Exosphere that gets
// SIGTERM has exited by then; whoever stops it kills it a second later. Throws UserError naming
// the variable when it is not such a number.
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
