// A unit's lifecycle under `exo run`: its states, the events that move it, and ONE transition
// function. Pure: no processes, no timers, no output. The supervisor feeds it events and carries
// out the action it returns. docs/architecture.md ("A unit's lifecycle") draws the table.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace exo::runner {

using Clock = std::chrono::steady_clock;

enum class State {
  waiting,      // not started yet: what it needs is not ready
  starting,     // its process runs; its online text or health check has not come yet
  ready,        // online
  stopping,     // SIGTERM sent; its process has not ended yet
  backing_off,  // crashed; starts again when the back-off delay is over
  crashed,      // ended on its own and is not restarted (restart.on-failure is off)
  stopped,      // stopped on purpose (the dashboard's Stop, or exo run stopping)
  given_up,     // crashed too many times in a row; not restarted again
};

enum class Event {
  start,         // what it needs is ready, or Start from the dashboard
  became_ready,  // its online text appeared or its health check passed
  exited,        // its process ended (the exit code comes with it)
  stop,          // Stop from the dashboard
  restart,       // Restart from the dashboard, or its files changed
  retry,         // the back-off delay is over
  shutdown,      // exo run is stopping
};

enum class Action {
  none,
  spawn,         // start its process
  terminate,     // SIGTERM to its process group now, SIGKILL after the stop bound
  back_off,      // wait `Lifecycle::delay`, then send `retry`
  report_crash,  // say it exited; nothing more (not restarted)
  give_up,       // say it crashed too often, with its last lines of output
  fatal,         // the application cannot run without it: stop everything, exit 1
  refuse,        // the event does not apply now; `Lifecycle::why` says why
};

// What a crash leads to, from the unit's kind and its service.yml.
struct RestartPolicy {
  bool restart = false;   // start it again after a crash
  int max_restarts = 0;   // restarts in a row before giving up
  bool fatal = false;     // a crash ends exo run (dependencies, nats, an ExoCom never ready)
};

// A unit that stays ready this long before crashing starts counting its crashes anew.
inline constexpr std::chrono::seconds kStableAfter{10};
inline constexpr std::chrono::milliseconds kFirstBackOff{250};  // doubles with each crash in a row
inline constexpr int kMaxBackOffDoublings = 6;                  // at most 16 s

struct Lifecycle {
  State state = State::waiting;
  bool then_start = false;  // while stopping: start again once stopped (a restart)
  bool ever_ready = false;
  int crashes = 0;          // in a row
  int starts = 0;           // processes started
  std::optional<Clock::time_point> ready_since;  // of the current run; none until it is ready
  std::chrono::milliseconds delay{0};            // of the back-off the last step asked for
  int exit_code = 0;                             // of the last exit
  std::string why;                               // of the last refusal

  bool running() const { return state == State::starting || state == State::ready || state == State::stopping; }
  bool down() const { return state == State::crashed || state == State::stopped || state == State::given_up; }
};

// The transition function: moves `life` for `event` and returns what the supervisor must do.
// `exit_code` is read for Event::exited only.
Action step(Lifecycle& life, Event event, const RestartPolicy& policy, Clock::time_point now, int exit_code = 0);

std::string_view name(State state);
std::string_view name(Event event);
std::string_view name(Action action);

}  // namespace exo::runner
