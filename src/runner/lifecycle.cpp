#include "runner/lifecycle.hpp"

#include <algorithm>

namespace exo::runner {

namespace {

Action spawn(Lifecycle& l) {
  l.state = State::starting;
  l.then_start = false;
  l.ready_since.reset();
  ++l.starts;
  return Action::spawn;
}

Action refuse(Lifecycle& l, std::string why) {
  l.why = std::move(why);
  return Action::refuse;
}

// Its process ended while nobody asked it to stop.
Action crash(Lifecycle& l, const RestartPolicy& policy, Clock::time_point now, int code) {
  // Only a run that was ready, and stayed so for a while, breaks a series of crashes; a unit
  // that never became ready keeps counting (it used to restart every 250 ms forever).
  if (l.ready_since && now - *l.ready_since >= kStableAfter) l.crashes = 0;
  ++l.crashes;
  l.exit_code = code;
  l.ready_since.reset();
  bool command_unusable = !l.ever_ready && (code == 126 || code == 127);
  if (command_unusable || policy.fatal) {
    l.state = State::crashed;
    return Action::fatal;
  }
  if (!policy.restart) {
    l.state = State::crashed;
    return Action::report_crash;
  }
  if (l.crashes > policy.max_restarts) {
    l.state = State::given_up;
    return Action::give_up;
  }
  l.state = State::backing_off;
  l.delay = kFirstBackOff * (1 << std::min(l.crashes - 1, kMaxBackOffDoublings));
  return Action::back_off;
}

}  // namespace

Action step(Lifecycle& l, Event event, const RestartPolicy& policy, Clock::time_point now, int exit_code) {
  const State s = l.state;
  switch (event) {
    case Event::start:
      if (s == State::starting || s == State::ready) return refuse(l, "it is already running");
      if (s == State::stopping) {  // it starts again once stopped
        l.then_start = true;
        return Action::none;
      }
      if (s == State::given_up || s == State::crashed || s == State::stopped) l.crashes = 0;
      return spawn(l);

    case Event::became_ready:
      if (s != State::starting) return Action::none;
      l.state = State::ready;
      l.ready_since = now;
      l.ever_ready = true;
      return Action::none;

    case Event::exited:
      if (s == State::stopping) {
        if (l.then_start) return spawn(l);
        l.state = State::stopped;
        l.ready_since.reset();
        return Action::none;
      }
      if (s == State::starting || s == State::ready) return crash(l, policy, now, exit_code);
      return Action::none;  // no process of its own to end

    case Event::stop:
      if (s == State::starting || s == State::ready) {
        l.state = State::stopping;
        l.then_start = false;
        return Action::terminate;
      }
      if (s == State::stopping) {
        l.then_start = false;
        return Action::none;
      }
      if (s == State::backing_off) {
        l.state = State::stopped;
        return Action::none;
      }
      return refuse(l, "it is not running");

    case Event::restart:
      if (s == State::starting || s == State::ready) {
        l.state = State::stopping;
        l.then_start = true;
        return Action::terminate;
      }
      if (s == State::stopping) {  // Restart while stopping: it starts once the stop is complete
        l.then_start = true;
        return Action::none;
      }
      if (s == State::waiting) return refuse(l, "it has not started yet: it waits for what it needs");
      if (s != State::backing_off) l.crashes = 0;  // a restart asked for begins counting anew
      return spawn(l);

    case Event::retry:
      if (s != State::backing_off) return Action::none;  // stopped or restarted meanwhile
      return spawn(l);

    case Event::shutdown:
      if (s == State::starting || s == State::ready) {
        l.state = State::stopping;
        l.then_start = false;
        return Action::terminate;
      }
      if (s == State::stopping) l.then_start = false;
      if (s == State::backing_off) l.state = State::stopped;
      return Action::none;
  }
  return Action::none;
}

std::string_view name(State s) {
  switch (s) {
    case State::waiting: return "waiting";
    case State::starting: return "starting";
    case State::ready: return "ready";
    case State::stopping: return "stopping";
    case State::backing_off: return "backing off";
    case State::crashed: return "crashed";
    case State::stopped: return "stopped";
    case State::given_up: return "given up";
  }
  return "?";
}

std::string_view name(Event e) {
  switch (e) {
    case Event::start: return "start";
    case Event::became_ready: return "became ready";
    case Event::exited: return "exited";
    case Event::stop: return "stop";
    case Event::restart: return "restart";
    case Event::retry: return "retry";
    case Event::shutdown: return "shutdown";
  }
  return "?";
}

std::string_view name(Action a) {
  switch (a) {
    case Action::none: return "none";
    case Action::spawn: return "spawn";
    case Action::terminate: return "terminate";
    case Action::back_off: return "back off";
    case Action::report_crash: return "report crash";
    case Action::give_up: return "give up";
    case Action::fatal: return "fatal";
    case Action::refuse: return "refuse";
  }
  return "?";
}

}  // namespace exo::runner
