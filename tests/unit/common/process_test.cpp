#include <gtest/gtest.h>

#include <signal.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

using namespace exo;

namespace {
// A zombie (dead, not yet reaped by init) counts as gone.
bool alive(pid_t pid) {
  auto stat = try_read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}
}  // namespace

TEST(Process, CapturesOutputAndExitCode) {
  SpawnOptions o;
  o.argv = shell("echo out; echo err >&2; exit 3");
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(Process, FeedsInputAndSetsEnvironmentAndFolder) {
  SpawnOptions o;
  o.argv = shell("cat; echo \"$GREETING\"; pwd");
  o.env["GREETING"] = "hello";
  o.cwd = "/tmp";
  auto r = run_captured(o, "typed\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "typed\nhello\n/tmp\n");
}

TEST(Process, MissingProgramIsAUserError) {
  SpawnOptions o;
  o.argv = {"/nonexistent/program"};
  EXPECT_THROW(Process p(o), UserError);
}

TEST(Process, StopReachesGrandchildren) {
  SpawnOptions o;
  o.argv = shell("sleep 60 & echo $!; wait");
  Process p(o);
  char buf[64] = {};
  ssize_t n = ::read(p.stdout_fd(), buf, sizeof buf - 1);
  ASSERT_GT(n, 0);
  pid_t grandchild = std::stoi(buf);
  EXPECT_TRUE(alive(grandchild));
  int code = p.stop(std::chrono::milliseconds(2000));
  EXPECT_EQ(code, 128 + SIGTERM);
  // The grandchild was in the group and got the signal too.
  for (int i = 0; i < 200 && alive(grandchild); ++i) usleep(10000);
  EXPECT_FALSE(alive(grandchild));
}

TEST(Process, TimeoutStopsTheCommand) {
  SpawnOptions o;
  o.argv = shell("sleep 30");
  auto r = run_captured(o, {}, std::chrono::milliseconds(200));
  EXPECT_TRUE(r.timed_out);
}

TEST(Process, FindProgramOnPath) {
  EXPECT_FALSE(find_program("bash").empty());
  EXPECT_TRUE(find_program("surely-no-such-program-here").empty());
}

TEST(Process, AChildThatIgnoresItsInputDoesNotEndTheCaller) {
  // Without care, writing into the closed pipe raises SIGPIPE and kills this test process.
  std::string input(1 << 20, 'x');
  exo::SpawnOptions o;
  o.argv = {"true"};
  EXPECT_EQ(exo::run_captured(o, input).exit_code, 0);
  EXPECT_EQ(exo::run_attached(o, input), 0);
}
