#include "common/container_engine.hpp"

#include <filesystem>

#include "common/error.hpp"
#include "common/process.hpp"

namespace exo {

namespace {

constexpr std::string_view kHostCertificates = "/etc/ssl/certs/ca-certificates.crt";

bool answers(const std::string& program, std::vector<std::string> args) {
  SpawnOptions o;
  o.argv = {program};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  return run_captured(o, {}, std::chrono::seconds(20)).exit_code == 0;
}

}  // namespace

std::vector<std::string> ContainerEngine::build() const {
  std::vector<std::string> argv = {program, "build"};
  if (podman) argv.insert(argv.end(), {"--format", "docker"});
  // The machine's certificate authorities, for builds that download through a TLS-inspecting proxy.
  if (std::filesystem::exists(kHostCertificates)) argv.insert(argv.end(), {"--secret", "id=host-ca,src=" + std::string(kHostCertificates)});
  return argv;
}

bool ContainerEngine::has_image(const std::string& image) const {
  return answers(program, {"image", "inspect", "--format", "{{.Id}}", image});
}

ContainerEngine find_container_engine() {
  std::string docker = find_program("docker");
  if (!docker.empty() && answers(docker, {"info", "--format", "{{.ServerVersion}}"})) return {docker, false};
  std::string podman = find_program("podman");
  if (!podman.empty()) return {podman, true};
  if (!docker.empty())
    throw UserError("the docker CLI is here but no Docker daemon answers (is it running? is DOCKER_HOST right?), and "
                    "Podman is not installed; start Docker, or install Podman (scripts/install-deps sets it up)");
  throw UserError("neither Docker nor Podman is installed; install one of them (scripts/install-deps sets up Podman)");
}

}  // namespace exo
