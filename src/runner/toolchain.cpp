#include <cstdlib>

#include "common/files.hpp"
#include "common/process.hpp"
#include "runner/runner.hpp"

namespace exo::runner {

namespace fs = std::filesystem;

// `exo` runs either from its build folder (<build>/src/cli/exo) or installed (<prefix>/bin/exo).
Toolchain find_toolchain() {
  Toolchain t;
  fs::path here = executable_dir();
  std::error_code ec;
  if (const char* e = std::getenv("EXOCOM_BINARY"); e && *e) t.exocom = e;
  else if (fs::exists(here / "exocom", ec)) t.exocom = here / "exocom";
  else if (fs::exists(here / "../exocom/exocom", ec)) t.exocom = fs::canonical(here / "../exocom/exocom", ec);
  else t.exocom = find_program("exocom");
  if (fs::exists(here / "../../exosphereConfig.cmake", ec)) t.sdk_prefix = fs::canonical(here / "../..", ec);
  else if (fs::exists(here / "../lib/cmake/exosphere", ec)) t.sdk_prefix = fs::canonical(here / "..", ec);
  if (fs::exists(here / "../share/exosphere/templates", ec)) t.source_root = fs::canonical(here / "../share/exosphere", ec);
  else t.source_root = EXO_SOURCE_DIR;
  return t;
}

std::map<std::string, std::string> Toolchain::env() const {
  std::map<std::string, std::string> env;
  if (!sdk_prefix.empty()) {
    const char* existing = std::getenv("CMAKE_PREFIX_PATH");
    env["CMAKE_PREFIX_PATH"] = sdk_prefix.string() + (existing && *existing ? ":" + std::string(existing) : "");
    env["EXOSPHERE_SDK"] = sdk_prefix.string();
  }
  env["EXOSPHERE_HOME"] = source_root.string();
  if (!exocom.empty()) env["EXOCOM_BINARY"] = exocom.string();
  return env;
}

}  // namespace exo::runner
