// The lifecycle's transition function (lifecycle.hpp): every row of the table in
// docs/architecture.md ("A unit's lifecycle") that a defect came from.
#include <gtest/gtest.h>

#include "runner/lifecycle.hpp"

using namespace exo::runner;
using namespace std::chrono_literals;

namespace {

const RestartPolicy kOnFailure{true, 3, false};
const Clock::time_point t0 = Clock::now();

Lifecycle started(const RestartPolicy& policy = kOnFailure) {
  Lifecycle l;
  EXPECT_EQ(step(l, Event::start, policy, t0), Action::spawn);
  EXPECT_EQ(l.state, State::starting);
  return l;
}

}  // namespace

// The defect: a unit that never became ready had its crash count reset on every crash (it was
// "ready" since the clock's epoch), so it restarted every 250 ms forever.
TEST(Lifecycle, ACrashBeforeReadyBacksOffDoublingThenGivesUp) {
  Lifecycle l = started();
  std::vector<long> delays;
  auto now = t0 + 1h;  // long after anything: only a ready run may reset the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(step(l, Event::exited, kOnFailure, now, 1), Action::back_off) << i;
    EXPECT_EQ(l.state, State::backing_off);
    delays.push_back(static_cast<long>(l.delay.count()));
    now += 1h;
    ASSERT_EQ(step(l, Event::retry, kOnFailure, now), Action::spawn);
  }
  EXPECT_EQ(delays, (std::vector<long>{250, 500, 1000}));
  EXPECT_EQ(step(l, Event::exited, kOnFailure, now, 1), Action::give_up);
  EXPECT_EQ(l.state, State::given_up);
  EXPECT_EQ(l.crashes, 4);
  EXPECT_EQ(l.exit_code, 1);
  EXPECT_EQ(step(l, Event::retry, kOnFailure, now), Action::none) << "a stale back-off timer starts nothing";
}

TEST(Lifecycle, OnlyARunThatStayedReadyStartsCountingAnew) {
  Lifecycle l = started();
  step(l, Event::became_ready, kOnFailure, t0);
  ASSERT_EQ(step(l, Event::exited, kOnFailure, t0 + 1s, 1), Action::back_off);
  step(l, Event::retry, kOnFailure, t0 + 2s);
  step(l, Event::became_ready, kOnFailure, t0 + 2s);
  ASSERT_EQ(step(l, Event::exited, kOnFailure, t0 + 3s, 1), Action::back_off);
  EXPECT_EQ(l.crashes, 2) << "ready for 1 s: still in a row";
  step(l, Event::retry, kOnFailure, t0 + 4s);
  step(l, Event::became_ready, kOnFailure, t0 + 4s);
  ASSERT_EQ(step(l, Event::exited, kOnFailure, t0 + 4s + kStableAfter, 1), Action::back_off);
  EXPECT_EQ(l.crashes, 1) << "ready for 10 s: a new series";
  EXPECT_EQ(l.delay, 250ms);
}

// The defect: Restart while stopping answered 204 and did nothing.
TEST(Lifecycle, RestartWhileStoppingStartsOnceStopped) {
  Lifecycle l = started();
  step(l, Event::became_ready, kOnFailure, t0);
  EXPECT_EQ(step(l, Event::stop, kOnFailure, t0), Action::terminate);
  EXPECT_EQ(l.state, State::stopping);
  EXPECT_EQ(step(l, Event::restart, kOnFailure, t0), Action::none);
  EXPECT_TRUE(l.then_start);
  EXPECT_EQ(step(l, Event::exited, kOnFailure, t0, 143), Action::spawn);
  EXPECT_EQ(l.state, State::starting);
  EXPECT_EQ(l.crashes, 0) << "a stop asked for is no crash";
  EXPECT_EQ(l.starts, 2);
}

TEST(Lifecycle, StopAndShutdown) {
  Lifecycle l = started();
  EXPECT_EQ(step(l, Event::stop, kOnFailure, t0), Action::terminate);
  EXPECT_EQ(step(l, Event::exited, kOnFailure, t0, 143), Action::none);
  EXPECT_EQ(l.state, State::stopped);
  EXPECT_EQ(step(l, Event::stop, kOnFailure, t0), Action::refuse);
  EXPECT_EQ(l.why, "it is not running");

  Lifecycle b = started();
  step(b, Event::exited, kOnFailure, t0, 1);
  ASSERT_EQ(b.state, State::backing_off);
  EXPECT_EQ(step(b, Event::shutdown, kOnFailure, t0), Action::none);
  EXPECT_EQ(b.state, State::stopped);
  EXPECT_EQ(step(b, Event::retry, kOnFailure, t0), Action::none);

  Lifecycle r = started();
  step(r, Event::restart, kOnFailure, t0);
  EXPECT_EQ(step(r, Event::shutdown, kOnFailure, t0), Action::none);
  EXPECT_FALSE(r.then_start) << "nothing starts again while exo run stops";
  EXPECT_EQ(step(r, Event::exited, kOnFailure, t0, 143), Action::none);
  EXPECT_EQ(r.state, State::stopped);
}

TEST(Lifecycle, CrashesWithoutRestartOrFatal) {
  Lifecycle l = started(RestartPolicy{});
  EXPECT_EQ(step(l, Event::exited, RestartPolicy{}, t0, 3), Action::report_crash);
  EXPECT_EQ(l.state, State::crashed);
  EXPECT_EQ(step(l, Event::restart, RestartPolicy{}, t0), Action::spawn) << "a change or Restart starts it again";

  Lifecycle missing = started();
  EXPECT_EQ(step(missing, Event::exited, kOnFailure, t0, 127), Action::fatal) << "command not found: no retries";

  const RestartPolicy dependency{false, 0, true};
  Lifecycle d = started(dependency);
  step(d, Event::became_ready, dependency, t0);
  EXPECT_EQ(step(d, Event::exited, dependency, t0, 1), Action::fatal);
}

TEST(Lifecycle, AGivenUpUnitRestartedCountsAnew) {
  const RestartPolicy once{true, 0, false};
  Lifecycle l = started(once);
  ASSERT_EQ(step(l, Event::exited, once, t0, 1), Action::give_up);
  EXPECT_EQ(step(l, Event::restart, once, t0), Action::spawn);
  EXPECT_EQ(l.crashes, 0);
  Lifecycle w;
  EXPECT_EQ(step(w, Event::restart, once, t0), Action::refuse);
  EXPECT_EQ(w.state, State::waiting);
}
