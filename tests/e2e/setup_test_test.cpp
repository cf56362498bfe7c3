// exo setup and exo test on small applications whose commands are shell lines.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {
void two_services(Sandbox& box, const std::string& users_tests, const std::string& users_setup = "echo installing users") {
  box.write("application.yml", R"(
    name: tests-app
    services:
      public:
        tweets-service:
          location: ./tweets
      private:
        users-service:
          location: ./users
  )");
  box.write("tweets/service.yml", "setup: echo installing tweets\ntests: echo 'running tests for tweets service'\n");
  box.write("users/service.yml", "setup: " + users_setup + "\ntests: " + users_tests + "\n");
}
}  // namespace

TEST(ExoSetup, RunsEachSetupInOrder) {
  Sandbox box;
  two_services(box, "true");
  auto r = run_exo({"setup"}, box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Setting up tests-app"), std::string::npos);
  auto tweets = r.out.find("tweets-service  installing tweets");
  auto users = r.out.find(" users-service  installing users");
  ASSERT_NE(tweets, std::string::npos) << r.out;
  ASSERT_NE(users, std::string::npos) << r.out;
  EXPECT_LT(tweets, users);
  EXPECT_NE(r.out.find("tweets-service  setup finished"), std::string::npos);
  EXPECT_NE(r.out.find("exo-setup  setup complete"), std::string::npos);
}

TEST(ExoSetup, StopsAtTheFirstFailureWithItsExitCode) {
  Sandbox box;
  two_services(box, "true", "echo broken; exit 3");
  box.write("tweets/service.yml", "setup: echo installing tweets\n");
  auto r = run_exo({"se"}, box.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("users-service  setup failed with exit code 3"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("setup complete"), std::string::npos);
}

TEST(ExoTest, AllPass) {
  Sandbox box;
  two_services(box, "echo 'running tests for users service'");
  auto r = run_exo({"test"}, box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("exo-test  Testing application 'tests-app'"), std::string::npos);
  EXPECT_NE(r.out.find("running tests for tweets service"), std::string::npos);
  EXPECT_NE(r.out.find("running tests for users service"), std::string::npos);
  EXPECT_NE(r.out.find("exo-test  users-service works"), std::string::npos);
  EXPECT_NE(r.out.find("exo-test  tweets-service works"), std::string::npos);
  EXPECT_NE(r.out.find("exo-test  All tests passed"), std::string::npos);
}

TEST(ExoTest, AFailureIsReported) {
  Sandbox box;
  two_services(box, "./run-tests");
  box.write("users/run-tests", "#!/bin/sh\necho 'running tests for users service ... failing!'\nexit 1\n");
  fs::permissions(box / "users/run-tests", fs::perms::owner_all);
  auto r = run_exo({"t"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("tweets-service works"), std::string::npos);
  EXPECT_NE(r.err.find("users-service is broken"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Tests failed: users-service"), std::string::npos);
}

TEST(ExoTest, NoTestsIsSkipped) {
  Sandbox box;
  two_services(box, "true");
  box.write("tweets/service.yml", "setup: true\n");
  auto r = run_exo({"test"}, box.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tweets-service has no tests, skipping"), std::string::npos);
}

TEST(ExoTest, OneServiceInItsFolder) {
  Sandbox box;
  two_services(box, "exit 4");
  auto ok = run_exo({"test"}, box / "tweets");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_NE(ok.out.find("exo-test  Testing service 'tweets-service'"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("Testing application"), std::string::npos);
  auto broken = run_exo({"test"}, box / "users");
  EXPECT_EQ(broken.exit_code, 1);
}

TEST(ExoTest, OutsideAServiceOrApplication) {
  Sandbox box;
  auto r = run_exo({"test"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Tests do not exist. Not in service or application directory"), std::string::npos);
}

TEST(ExoTest, DependenciesStartBeforeTheTests) {
  Sandbox box;
  two_services(box, "echo \"db at $DB:$DB_PORT\"");
  box.write("users/service.yml", R"(
    tests: echo "db at $DB:$DB_PORT"
    dependencies:
      db:
        dev:
          command: echo "db listening on $PORT"; exec sleep 600
          online-text: db listening
  )");
  auto r = run_exo({"test"}, box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("users-service-db  db listening on "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("db at 127.0.0.1:"), std::string::npos) << r.out;
}

TEST(ExoTest, ParallelAndJunit) {
  Sandbox box;
  two_services(box, "sleep 0.3; exit 1");
  box.write("tweets/service.yml", "tests: sleep 0.3\n");
  auto start = std::chrono::steady_clock::now();
  auto r = run_exo({"test", "--parallel", "--junit", "results.xml"}, box.path());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550)) << "not in parallel";
  EXPECT_EQ(r.exit_code, 1);
  auto xml = box.read("results.xml");
  EXPECT_NE(xml.find("<testsuite name=\"tests-app\" tests=\"2\" failures=\"1\" skipped=\"0\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"tests-app\" name=\"users-service\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"exit code 1\">"), std::string::npos);
}
