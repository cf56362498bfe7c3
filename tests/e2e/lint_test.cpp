// `exo lint` on real folders, as a user runs it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "support/test_support.hpp"

using namespace exo::test;

namespace {

void write_app(Sandbox& box, std::string_view web_sends, std::string_view web_receives) {
  box.write("application.yml", R"(
    name: lint-app
    services:
      public:
        web:
          location: ./web
      private:
        users:
          location: ./users
          namespace: mongo
  )");
  box.write("web/service.yml", std::string("messages:\n  sends: [") + std::string(web_sends) + "]\n  receives: [" +
                                   std::string(web_receives) + "]\n");
  box.write("users/service.yml", R"(
    messages:
      receives: [mongo.create]
      sends: [mongo.created]
  )");
}

}  // namespace

TEST(LintCommand, PassingApplication) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Running linter for lint-app"), std::string::npos);
  EXPECT_NE(r.out.find("  exo-lint  Lint passed"), std::string::npos) << r.out;
}

TEST(LintCommand, SentButNotReceived) {
  Sandbox box;
  write_app(box, "users.create, user.delete", "users.created");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("exo-lint  The following messages are sent but not received:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("       web  user.delete\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Lint failed: 1 problem"), std::string::npos);
}

TEST(LintCommand, ReceivedButNotSent) {
  Sandbox box;
  write_app(box, "users.create", "users.created, user.created");
  auto r = run_exo({"l"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("exo-lint  The following messages are received but not sent:"), std::string::npos);
  EXPECT_NE(r.out.find("       web  user.created\n"), std::string::npos) << r.out;
}

TEST(LintCommand, MissingServiceFile) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  fs::remove(box / "users/service.yml");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("The following roles have no service.yml:"), std::string::npos);
  EXPECT_NE(r.out.find("users  users/service.yml not found (location ./users)"), std::string::npos) << r.out;
}

TEST(LintCommand, OutsideAnApplication) {
  Sandbox box;
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: application.yml: not found; run this command in the root folder of an Exosphere application"
                   " (the folder that holds application.yml)\n");
}

TEST(LintCommand, MalformedApplicationYml) {
  Sandbox box;
  box.write("application.yml", "name: foo\nservices:\n  public:\n    web:\n");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: application.yml:4: services.public.web: needs 'location' or 'docker-image'\n");
  EXPECT_TRUE(r.out.empty());
}

TEST(LintCommand, MalformedServiceYml) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  box.write("users/service.yml", "messages:\n  sends: {a: b}\n");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: users/service.yml:2: messages.sends: expected a list, found a map\n");
}

TEST(LintCommand, UnknownKeysWarnButDoNotFail) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  box.write("web/service.yml", "colour: blue\nmessages:\n  sends: [users.create]\n  receives: [users.created]\n");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("Warning: web/service.yml:1: colour: unknown key, ignored"), std::string::npos) << r.err;
}

TEST(LintCommand, LocationThatIsNotAFolder) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  fs::remove_all(box / "users");
  box.write("users", "not a folder");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("users  users/service.yml not found"), std::string::npos) << r.out << r.err;
}

TEST(LintCommand, UnreadableServiceFolder) {
  Sandbox box;
  write_app(box, "users.create", "users.created");
  chmod(box.path().c_str(), 0755);
  chmod((box / "users").c_str(), 0);
  // Root reads every folder, so the command runs as an unprivileged user.
  std::vector<std::string> argv = {EXO_BINARY, "lint"};
  if (geteuid() == 0) argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  exo::SpawnOptions o;
  o.argv = argv;
  o.cwd = box.path();
  o.env["NO_COLOR"] = "1";
  auto r = exo::run_captured(o);
  chmod((box / "users").c_str(), 0755);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: users/service.yml: cannot read (Permission denied)\n") << r.out;
}

TEST(LintCommand, ApplicationYmlIsAFolder) {
  Sandbox box;
  fs::create_directories(box / "application.yml");
  auto r = run_exo({"lint"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: application.yml: is a directory, expected a file\n");
}
