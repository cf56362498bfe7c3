#include "cli/workspace.hpp"

#include <cstdio>

#include "common/files.hpp"

namespace exo::cli {

void print_warnings(const config::Warnings& warnings) {
  bool color = colors_wanted(stderr);
  for (const auto& line : warnings.lines)
    std::fprintf(stderr, "%s\n", paint("Warning: " + line, Color::yellow, color).c_str());
}

config::Application load_application(const std::filesystem::path& dir) {
  config::Warnings warnings;
  auto app = config::load_application(dir, warnings);
  print_warnings(warnings);
  return app;
}

Workspace load_workspace(const std::filesystem::path& dir, bool allow_missing) {
  config::Warnings warnings;
  Workspace ws{config::load_application(dir, warnings), {}, {}};
  for (const auto& ref : ws.app.services) {
    if (ref.location.empty()) continue;
    auto sdir = config::service_dir(ws.app, ref);
    if (allow_missing && !path_exists(sdir / "service.yml")) {
      ws.missing.push_back(ref.role);
      continue;
    }
    ws.services.emplace(ref.role, config::load_service(ws.app, ref, warnings));
  }
  print_warnings(warnings);
  return ws;
}

}  // namespace exo::cli
