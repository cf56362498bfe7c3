// What `exo run --docker` and `exo deploy --rehearse` make around the supervisor: the project's
// base images (built when missing), one image per service from its folder, the networks, and at the
// end the removal of every container of the session and of its networks.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

class ContainerSession {
 public:
  // `name` labels every container of the session and prefixes their names; `networks` are created
  // (and removed at the end). Containers an earlier session left behind (killed) are removed first.
  ContainerSession(const std::string& name, std::vector<std::string> networks, const runner::Toolchain& toolchain,
                   Logger& log);
  ~ContainerSession();
  ContainerSession(const ContainerSession&) = delete;
  ContainerSession& operator=(const ContainerSession&) = delete;

  // Builds `image` from the Dockerfile in `dir`; a failed build shows its last lines under `role`.
  void build(const std::string& role, const std::string& image, const std::filesystem::path& dir);
  // Adds the session's networks, creating those that are missing.
  void create_networks();
  runner::Containers& containers() { return c_; }

 private:
  void remove_containers() const;
  void base_images(const runner::Toolchain& toolchain);

  runner::Containers c_;
  std::vector<std::string> networks_;
  Logger& log_;
};

// The version of the project's images (exosphere/sdk, runtime, node, exocom, proxy).
std::string image_version();

}  // namespace exo::cli
