#include "common/container_engine.hpp"

#include <filesystem>

#include "common/error.hpp"
#include "common/process.hpp"

namespace exo {

namespace {

constexpr std::string_view kHostCertificates = "/etc/ssl/certs/ca-certificates.crt";

}  // namespace

std::vector<std::string> ContainerEngine::build() const {
  std::vector<std::string> argv = {program, "build"};
  if (podman) argv.insert(argv.end(), {"--format", "docker"});
  // The machine's certificate authorities, for builds that download through a TLS-inspecting proxy.
  if (std::filesystem::exists(kHostCertificates))
    argv.insert(argv.end(), {"--secret", "id=host-ca,src=" + std::string(kHostCertificates)});
  return argv;
}

bool ContainerEngine::ok(const std::vector<std::string>& args, std::string* output, std::chrono::seconds timeout) const {
  SpawnOptions o;
  o.argv = {program};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.die_with_parent = true;  // an engine client never outlives exo
  RunResult r = run_captured(o, {}, timeout);
  if (output) *output = r.out + r.err;
  return r.exit_code == 0;
}

bool ContainerEngine::has_image(const std::string& image) const {
  return ok({"image", "inspect", "--format", "{{.Id}}", image});
}

ContainerEngine find_container_engine() {
  std::string docker = find_program("docker");
  ContainerEngine docker_engine{docker, false};
  if (!docker.empty() && docker_engine.ok({"info", "--format", "{{.ServerVersion}}"}, nullptr, std::chrono::seconds(20)))
    return docker_engine;
  std::string podman = find_program("podman");
  if (!podman.empty()) return {podman, true};
  if (!docker.empty())
    throw UserError("the docker CLI is here but no Docker daemon answers (is it running? is DOCKER_HOST right?), and "
                    "Podman is not installed; start Docker, or install Podman (scripts/install-deps sets it up)");
  throw UserError("neither Docker nor Podman is installed; install one of them (scripts/install-deps sets up Podman)");
}

}  // namespace exo
