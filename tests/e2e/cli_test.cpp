// `exo` as a user types it: dispatch, help, version and errors.
#include <gtest/gtest.h>

#include <regex>

#include "support/processes.hpp"
#include "support/test_support.hpp"

using namespace exo::test;

TEST(Cli, PrintsTheVersionAndTheCommitItWasBuiltFrom) {
  Sandbox box;
  auto r = run_exo({"version"}, box.path());
  EXPECT_EQ(r.exit_code, 0);
  std::string head = git(EXO_SOURCE_DIR, {"rev-parse", "--short=12", "HEAD"});
  EXPECT_TRUE(std::regex_match(r.out, std::regex("Exosphere version 0\\.1\\.0 \\(git commit [0-9a-f]{12}(-dirty)?\\)\n"))) << r.out;
  EXPECT_NE(r.out.find(head.substr(0, 12)), std::string::npos) << "built from " << head << ", says " << r.out;
  exo::SpawnOptions o;
  o.argv = {exocom_binary(), "--version"};
  auto exocom = exo::run_captured(o, {}, std::chrono::seconds(10));
  EXPECT_EQ(exocom.exit_code, 0);
  EXPECT_EQ(exocom.out, "exocom 0.1.0\n");
}

// The completion scripts ask exo for the words that fit: commands, flags from the help text, roles
// of the application in the current folder, templates, environments.
TEST(Cli, CompletesCommandsFlagsRolesAndTemplates) {
  Sandbox box;
  box.write("application.yml", R"(
    name: shop
    services:
      public:
        web: {location: ./web}
      private:
        worker: {location: ./worker}
    environments:
      staging: {domain: shop.example.com}
  )");
  auto words = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"completion", "candidates"});
    auto r = run_exo(args, box.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_NE(words({"1", "exo"}).find("run\n"), std::string::npos);
  EXPECT_EQ(words({"3", "exo", "run", "--only"}), "web\nworker\n");
  EXPECT_EQ(words({"3", "exo", "run", "--port"}), "web=\nworker=\n");
  EXPECT_NE(words({"2", "exo", "run"}).find("--no-watch\n"), std::string::npos);
  EXPECT_NE(words({"2", "exo", "deploy"}).find("--teardown\nstaging\n"), std::string::npos) << words({"2", "exo", "deploy"});
  EXPECT_EQ(words({"3", "exo", "add", "--template-name"}), "exoservice-cpp\nexoservice-cpp-mongodb\nexoservice-js\nhtmlserver-cpp\n");
  EXPECT_EQ(words({"2", "exo", "completion"}), "bash\nzsh\nfish\n");

  // The bash script, loaded in bash, completes a half-typed command.
  auto script = run_exo({"completion", "bash"}, box.path());
  box.write("exo.bash", script.out);
  exo::SpawnOptions o;
  o.argv = {"bash", "-c", "source exo.bash; COMP_WORDS=(exo run --no-w); COMP_CWORD=2; _exo; echo \"${COMPREPLY[*]}\""};
  o.cwd = box.path();
  o.env = {{"PATH", fs::path(exo_command({}, box.path(), {}).argv[0]).parent_path().string() + ":/usr/bin:/bin"}};
  auto bash = exo::run_captured(o, {}, std::chrono::seconds(10));
  EXPECT_EQ(bash.out, "--no-watch\n") << bash.err;

  auto wrong = run_exo({"completion", "tcsh"}, box.path());
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(wrong.err, "Error: exo completion takes bash, zsh or fish, not 'tcsh'\n");
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
