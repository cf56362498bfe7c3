#include "deploy/images.hpp"

#include <cstdio>

#include "common/container_engine.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/process.hpp"
#include "common/text.hpp"
#include "deploy/aws.hpp"

namespace exo::deploy {

namespace {

RunResult git(const std::filesystem::path& dir, std::vector<std::string> args) {
  SpawnOptions o;
  o.argv = {"git", "-C", dir.string()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  return run_captured(o, {}, std::chrono::minutes(1));
}

void check_engine(const ContainerEngine& engine, int code, const std::string& step, const std::string& fix) {
  if (code != 0)
    throw UserError(step + " failed (" + std::filesystem::path(engine.program).filename().string() + " exited with " +
                    std::to_string(code) + "); " + fix);
}

}  // namespace

std::string Registry::repository(const DeployTarget& target, const ServiceTarget& service) const {
  if (kind == Kind::ecr) return host + "/" + ecr_name(target, service);
  return namespace_ + "/" + target.app_slug + "-" + service.slug;
}

std::string Registry::ecr_name(const DeployTarget& target, const ServiceTarget& service) const {
  return kind == Kind::ecr ? target.app_slug + "/" + service.slug : std::string();
}

std::string image_tag(const std::filesystem::path& dir, bool* dirty) {
  if (find_program("git").empty())
    throw UserError("images are tagged with the git commit of their service; install git and commit the application");
  auto commit = git(dir, {"rev-list", "-1", "HEAD", "--", "."});
  std::string sha(trim(commit.out));
  if (commit.exit_code != 0 || sha.empty())
    throw UserError(display_path(dir) + " has no git commit; exo deploy tags images with the last commit of each "
                    "service folder: commit it (git add, git commit) and run again");
  auto status = git(dir, {"status", "--porcelain", "--", "."});
  bool is_dirty = !trim(status.out).empty();
  if (dirty) *dirty = is_dirty;
  if (!is_dirty) return sha.substr(0, 12);
  // Each state of uncommitted changes gets its own tag, so deploying again deploys the change.
  std::string changes = git(dir, {"diff", "HEAD", "--binary", "--", "."}).out;
  auto untracked = git(dir, {"ls-files", "--others", "--exclude-standard", "--", "."});
  for (const auto& file : split_lines(untracked.out)) {
    if (file.empty()) continue;
    changes += file + "\n" + git(dir, {"hash-object", "--", file}).out;
  }
  return sha.substr(0, 12) + "-dirty-" + stable_hash_hex(changes, 8);
}

std::vector<Image> plan_images(const DeployTarget& target, const Registry& registry) {
  std::vector<Image> images;
  for (const auto& s : target.services) {
    if (!path_exists(s.dir / "Dockerfile"))
      throw UserError(display_path(s.dir / "Dockerfile") + ": not found; exo deploy builds the image of role '" + s.role +
                      "' from it (see docs/deploy.md for a production Dockerfile)");
    Image img;
    img.role = s.role;
    img.dir = s.dir;
    img.image = registry.repository(target, s) + ":" + image_tag(s.dir, &img.dirty);
    images.push_back(std::move(img));
  }
  return images;
}

void push_images(const std::vector<Image>& images, const Registry& registry, Aws* aws, const DeployTarget& target) {
  ContainerEngine engine = find_container_engine();
  std::string login_fix = registry.kind == Registry::Kind::ecr
                              ? "check that the credentials may push to ECR"
                              : "run 'docker login' with an account that may push to " + registry.namespace_ + "/ on DockerHub";
  if (registry.kind == Registry::Kind::ecr) {
    for (const auto& s : target.services) aws->ensure_repository(registry.ecr_name(target, s));
    SpawnOptions login;
    login.argv = {engine.program, "login", "--username", "AWS", "--password-stdin", registry.host};
    check_engine(engine, run_attached(login, aws->registry_password()), "Logging in to " + registry.host, login_fix);
  }
  for (const auto& img : images) {
    if (!img.dirty) {
      SpawnOptions inspect;
      inspect.argv = {engine.program, "manifest", "inspect", img.image};
      if (run_captured(inspect, {}, std::chrono::minutes(2)).exit_code == 0) {
        std::printf("    %s: %s is already in the registry\n", img.role.c_str(), img.image.c_str());
        continue;
      }
    }
    std::printf("    %s: building %s\n", img.role.c_str(), img.image.c_str());
    std::fflush(stdout);
    SpawnOptions build;
    build.argv = engine.build();
    build.argv.insert(build.argv.end(), {"--platform", "linux/amd64", "--tag", img.image, img.dir.string()});
    check_engine(engine, run_attached(build), "Building the image of " + img.role,
                 "fix " + display_path(img.dir / "Dockerfile") + " (its output is above) and run exo deploy again");
    std::printf("    %s: pushing %s\n", img.role.c_str(), img.image.c_str());
    std::fflush(stdout);
    SpawnOptions push;
    push.argv = {engine.program, "push", img.image};
    check_engine(engine, run_attached(push), "Pushing the image of " + img.role, login_fix);
  }
}

}  // namespace exo::deploy
