// Every shipped template gives a service that builds and passes its own tests through exo setup
// and exo test, with nothing but what install-deps installed.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

class ShippedTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedTemplate, BuildsAndPassesItsTests) {
  Sandbox box;
  box.write("app/application.yml", "name: app\nservices:\n  public:\n  private:\n");
  fs::path app = box / "app";
  auto add = run_exo({"add", "--service-role=thing", "--service-type=thing-service", "--description=a thing",
                      "--author=me", "--template-name=" + GetParam(), "--model-name=note", "--protection-level=private"},
                     app);
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  auto setup = run_exo({"setup"}, app);
  ASSERT_EQ(setup.exit_code, 0) << setup.out << setup.err;
  auto test = run_exo({"test"}, app);
  EXPECT_EQ(test.exit_code, 0) << test.out << test.err;
  EXPECT_NE(test.out.find("exo-test  thing works"), std::string::npos) << test.out;
  auto lint_out = run_exo({"lint"}, app);
  EXPECT_NE(lint_out.out.find("Running linter for app"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Templates, ShippedTemplate,
                         ::testing::Values("exoservice-cpp", "exoservice-cpp-mongodb", "htmlserver-cpp", "exoservice-js"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });
