#include <cstdlib>

#include "common/files.hpp"
#include "common/process.hpp"
#include "runner/runner.hpp"

namespace exo::runner {

namespace fs = std::filesystem;

// `exo` runs either from its build folder (<build>/src/cli/exo) or installed (<prefix>/bin/exo).
// Installed, it finds what it came with relative to its own location, so an install under any
// prefix works, and it never looks into the source tree; EXOSPHERE_HOME names another home for the
// templates and the JavaScript client.
Toolchain find_toolchain() {
  Toolchain t;
  fs::path here = executable_dir();
  fs::path prefix = here.parent_path();
  std::error_code ec;
  bool installed = here.filename() == EXO_INSTALL_BINDIR && fs::exists(prefix / EXO_INSTALL_DATADIR / "exosphere" / "templates", ec);
  if (const char* e = std::getenv("EXOCOM_BINARY"); e && *e) t.exocom = e;
  else if (fs::exists(here / "exocom", ec)) t.exocom = here / "exocom";
  else if (!installed && fs::exists(here / "../exocom/exocom", ec)) t.exocom = fs::canonical(here / "../exocom/exocom", ec);
  else t.exocom = find_program("exocom");
  if (installed && fs::exists(prefix / EXO_INSTALL_LIBDIR / "cmake" / "exosphere", ec)) t.sdk_prefix = prefix;
  else if (!installed && fs::exists(here / "../../exosphereConfig.cmake", ec)) t.sdk_prefix = fs::canonical(here / "../..", ec);
  if (const char* home = std::getenv("EXOSPHERE_HOME"); home && *home) t.source_root = home;
  else if (installed) t.source_root = prefix / EXO_INSTALL_DATADIR / "exosphere";
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
