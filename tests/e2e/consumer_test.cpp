// An outside CMake project consumes the SDK, both ways: find_package after `cmake --install`, and
// add_subdirectory of the source tree. Each builds a service and runs it against MockExoCom.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {

RunResult run(std::vector<std::string> argv, const fs::path& cwd = {}) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.cwd = cwd;
  o.merge_stderr = true;
  return run_captured(o, {}, std::chrono::minutes(15));
}

std::vector<std::string> configure(const fs::path& source, const fs::path& build, std::vector<std::string> extra) {
  std::vector<std::string> argv = {"cmake", "-S", source.string(), "-B", build.string(), "-G", "Ninja",
                                   "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS=-O1"};
  if (!find_program("ccache").empty()) argv.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache");
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace

TEST(SdkConsumer, FindPackageAfterInstall) {
  Sandbox box;
  auto install = run({"cmake", "--install", EXO_BUILD_DIR, "--prefix", (box / "prefix").string()});
  ASSERT_EQ(install.exit_code, 0) << install.out;
  EXPECT_TRUE(fs::exists(box / "prefix/include/exosphere/exosphere.hpp"));
  auto cfg = run(configure(fs::path(EXO_SOURCE_DIR) / "tests/consumer/find_package", box / "build",
                           {"-DCMAKE_PREFIX_PATH=" + (box / "prefix").string()}));
  ASSERT_EQ(cfg.exit_code, 0) << cfg.out;
  auto build = run({"cmake", "--build", (box / "build").string()});
  ASSERT_EQ(build.exit_code, 0) << build.out;
  auto exe = run({(box / "build/consumer").string()});
  EXPECT_EQ(exe.exit_code, 0) << exe.out;
  EXPECT_NE(exe.out.find("consumer: pong"), std::string::npos) << exe.out;
}

TEST(SdkConsumer, AddSubdirectory) {
  Sandbox box;
  auto cfg = run(configure(fs::path(EXO_SOURCE_DIR) / "tests/consumer/add_subdirectory", box / "build",
                           {std::string("-DEXOSPHERE_SOURCE_DIR=") + EXO_SOURCE_DIR}));
  ASSERT_EQ(cfg.exit_code, 0) << cfg.out;
  auto build = run({"cmake", "--build", (box / "build").string(), "--target", "consumer"});
  ASSERT_EQ(build.exit_code, 0) << build.out;
  auto exe = run({(box / "build/consumer").string()});
  EXPECT_EQ(exe.exit_code, 0) << exe.out;
  EXPECT_NE(exe.out.find("consumer: pong"), std::string::npos) << exe.out;
}
