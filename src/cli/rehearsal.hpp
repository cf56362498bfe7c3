// `exo deploy --rehearse [ENV]`: the production images with the production configuration on this
// machine, derived from the model that generates the Terraform (docs/deploy.md, "Rehearsal").
#pragma once

#include <filesystem>
#include <string>

#include "cli/workspace.hpp"

namespace exo::cli {

struct RehearsalOptions {
  std::string environment;             // empty: as exo deploy chooses
  std::filesystem::path secrets_file;  // empty: .exosphere/secrets/<env>.env
  int port = -1;                       // the proxy's port on 127.0.0.1; -1: 8080, else a free one
};

// Runs the rehearsal until Ctrl-C; returns the exit code.
int rehearse_deployment(const Workspace& ws, const RehearsalOptions& options);

}  // namespace exo::cli
