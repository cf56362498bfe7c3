#pragma once

// The container engine `exo` drives: Docker when its daemon answers (DOCKER_HOST respected), else
// Podman. Both take the same commands for what exo does (build, run, network, rm, image inspect).

#include <chrono>
#include <string>
#include <vector>

namespace exo {

struct ContainerEngine {
  std::string program;  // "docker" or "podman", as found on PATH
  bool podman = false;
  // `<program> build`, with what makes images keep their HEALTHCHECK (Podman's OCI default drops it)
  // and the machine's certificate authorities as the build secret `host-ca`.
  std::vector<std::string> build() const;
  // Runs `<program> args` to completion; whether it succeeded, its output (both streams) in `output`.
  bool ok(const std::vector<std::string>& args, std::string* output = nullptr,
          std::chrono::seconds timeout = std::chrono::minutes(30)) const;
  // Whether an image of that name exists locally.
  bool has_image(const std::string& image) const;
};

// Throws UserError saying how to get one when neither engine is usable.
ContainerEngine find_container_engine();

}  // namespace exo
