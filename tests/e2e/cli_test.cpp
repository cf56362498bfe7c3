// `exo` as a user types it: dispatch, help, version and errors.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using namespace exo::test;

TEST(Cli, PrintsTheVersion) {
  Sandbox box;
  auto r = run_exo({"version"}, box.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("Exosphere version ", 0), 0u) << r.out;
}

TEST(Cli, MissingCommandIsAnErrorWithUsage) {
  Sandbox box;
  auto r = run_exo({}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error: missing command"), std::string::npos);
  EXPECT_NE(r.err.find("Usage: exo <command> [options]"), std::string::npos);
}

TEST(Cli, UnknownCommandIsAnErrorWithUsage) {
  Sandbox box;
  auto r = run_exo({"zonk"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error: unknown command 'zonk'"), std::string::npos);
  EXPECT_NE(r.err.find("Available commands are:"), std::string::npos);
}

TEST(Cli, AmbiguousPrefixIsUnknown) {
  Sandbox box;
  auto r = run_exo({"c"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error: unknown command 'c'"), std::string::npos);
}

TEST(Cli, HelpListsTheCommands) {
  Sandbox box;
  auto r = run_exo({"help"}, box.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("lint"), std::string::npos);
  EXPECT_NE(r.out.find("Verify the correctness of an application"), std::string::npos);
}

TEST(Cli, HelpForACommandBothWays) {
  Sandbox box;
  auto a = run_exo({"help", "lint"}, box.path());
  auto b = run_exo({"lint", "help"}, box.path());
  auto c = run_exo({"l", "help"}, box.path());
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out.rfind("Usage: exo lint", 0), 0u) << a.out;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out, c.out);
}

TEST(Cli, HelpForAnUnknownCommand) {
  Sandbox box;
  auto r = run_exo({"help", "zonk"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error: unknown command 'zonk'"), std::string::npos);
}

TEST(Cli, UnknownOptionNamesTheCommand) {
  Sandbox box;
  auto r = run_exo({"lint", "--zonk"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exo lint:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("see 'exo lint help'"), std::string::npos) << r.err;
}
