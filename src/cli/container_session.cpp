#include "cli/container_session.hpp"

#include "common/container_engine.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kSessionRole = runner::kRunRole;
}

std::string image_version() { return EXO_VERSION; }

ContainerSession::ContainerSession(const std::string& name, std::vector<std::string> networks,
                                   const runner::Toolchain& toolchain, Logger& log)
    : networks_(std::move(networks)), log_(log) {
  c_.engine = find_container_engine();
  c_.network = name;
  c_.exocom_image = "exosphere/exocom:" + image_version();
  base_images(toolchain);
  remove_containers();
}

ContainerSession::~ContainerSession() {
  remove_containers();
  for (const auto& n : networks_) c_.engine.ok({"network", "rm", n});
}

void ContainerSession::create_networks() {
  for (const auto& n : networks_)
    if (!c_.engine.ok({"network", "inspect", n}) && !c_.engine.ok({"network", "create", n}))
      throw UserError("could not create the container network '" + n + "' with " + c_.engine.program);
}

// Containers of an earlier session that ended without cleaning up (killed) hold the names.
void ContainerSession::remove_containers() const {
  std::string ids;
  c_.engine.ok({"ps", "-aq", "--filter", "label=exosphere.run=" + c_.network}, &ids);
  for (const auto& id : split_lines(trim(ids)))
    if (!trim(id).empty()) c_.engine.ok({"rm", "-f", std::string(trim(id))});
}

void ContainerSession::base_images(const runner::Toolchain& toolchain) {
  std::string version = image_version();
  fs::path script = toolchain.source_root / "docker" / "build-images";
  if (toolchain.source_root.empty() || !fs::exists(script)) {
    // An installed exo cannot build them: they must be there already.
    for (const char* base : {"sdk", "runtime", "node", "exocom", "proxy"})
      if (!c_.engine.has_image(std::string("exosphere/") + base + ":" + version))
        throw UserError("the images exosphere/sdk, runtime, node, exocom and proxy:" + version +
                        " are missing; build them with docker/build-images in the Exosphere repository");
    return;
  }
  // From the source tree they are built every time: the engine's layer cache makes that a few
  // seconds when nothing changed, and an image older than the SDK or ExoCom it holds is never used.
  log_.log(kSessionRole, "building Exosphere's base images (a few seconds when nothing changed, minutes the first time) ...");
  SpawnOptions o;
  o.argv = {script.string()};
  o.die_with_parent = true;  // Ctrl-C during a build leaves nothing running
  int code = run_lines(o, [&](const std::string& line) { log_.log(kSessionRole, line); });
  if (code != 0) throw UserError("docker/build-images failed (exit code " + std::to_string(code) + "); see the lines above");
}

void ContainerSession::build(const std::string& role, const std::string& image, const fs::path& dir) {
  log_.log(kSessionRole, "building the image of '" + role + "' ...");
  SpawnOptions o;
  o.argv = c_.engine.build();
  o.die_with_parent = true;
  o.argv.insert(o.argv.end(), {"-t", image, dir.string()});
  auto r = run_captured(o, {}, std::chrono::minutes(30));
  if (r.exit_code == 0) return;
  std::string out = r.out + r.err;
  auto lines = split_lines(trim(out));
  for (size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i) log_.log(role, std::string(lines[i]));
  throw UserError("the image of '" + role + "' did not build from " + display_path(dir / "Dockerfile") +
                  "; the lines above are the end of what " + c_.engine.program + " said");
}

}  // namespace exo::cli
