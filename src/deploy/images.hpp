#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "deploy/target.hpp"

namespace exo::deploy {

class Aws;

// Where images go: DockerHub under a namespace (the seed's way) or the account's ECR.
struct Registry {
  enum class Kind { dockerhub, ecr } kind = Kind::dockerhub;
  std::string host;       // ECR: <account>.dkr.ecr.<region>.amazonaws.com; DockerHub: empty
  std::string namespace_;  // DockerHub namespace, or the ECR repository prefix (the app)
  // The repository of a role: <namespace>/<app>-<role> or <host>/<app>/<role>.
  std::string repository(const DeployTarget& target, const ServiceTarget& service) const;
  // The name `aws ecr` uses (without the host); DockerHub: empty.
  std::string ecr_name(const DeployTarget& target, const ServiceTarget& service) const;
};

// A service image to deliver: `image` is repository:tag.
struct Image {
  std::string role;
  std::filesystem::path dir;
  std::string image;
  bool dirty = false;
};

// The tag of a service folder's image: the last commit that touched it (12 hex digits); with
// uncommitted changes, `-dirty-` and a hash of them. Throws when the folder is not in git.
std::string image_tag(const std::filesystem::path& dir, bool* dirty = nullptr);

// The images of every service of `target`, tagged from git.
std::vector<Image> plan_images(const DeployTarget& target, const Registry& registry);

// Builds and pushes each image, skipping clean ones already in the registry. Logs in to ECR
// through `aws` first. Throws naming the role, the step and the fix.
void push_images(const std::vector<Image>& images, const Registry& registry, Aws* aws, const DeployTarget& target);

}  // namespace exo::deploy
