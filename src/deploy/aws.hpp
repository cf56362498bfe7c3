#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"

namespace exo::deploy {

struct HostedZone {
  std::string id;  // like /hostedzone/Z123
  std::vector<std::string> name_servers;
};

// The AWS steps of deploy, each one call of the `aws` CLI (v1 or v2) in one region. Every
// failure becomes a UserError naming the step, what AWS said, and the fix.
class Aws {
 public:
  explicit Aws(std::string region);  // throws when the aws CLI is not installed

  // The account the credentials belong to.
  std::string caller_account();

  // The state bucket, created when missing: in this region, versioned, encrypted, private.
  // Settings are applied on every run, so an interrupted first run is completed by the next.
  void ensure_state_bucket(const std::string& bucket);
  bool bucket_exists(const std::string& bucket);

  // The public hosted zone named `domain`, if any.
  std::optional<HostedZone> find_hosted_zone(const std::string& domain);
  HostedZone create_hosted_zone(const std::string& domain, const std::string& caller_reference);
  void delete_hosted_zone(const HostedZone& zone, const std::string& domain);

  // ECR: the repository, created when missing; the password for `docker login`.
  void ensure_repository(const std::string& name);
  std::string registry_password();

  // SSM Parameter Store under `path` (/exo/<app>/<env>/): names without the path.
  std::vector<std::string> secret_names(const std::string& path);
  // Stores a SecureString; the value travels on the aws CLI's standard input, never its arguments.
  void put_secret(const std::string& name, const std::string& value, bool overwrite);
  void delete_secrets(const std::vector<std::string>& names);

 private:
  struct Result {
    int code = 0;
    std::string out, err;
  };
  Result run(const std::vector<std::string>& args, std::string_view input = {});
  // Runs `args` and returns its JSON answer; on failure throws "<step> failed: <AWS's words>; <fix>".
  json::value call(const std::string& step, const std::vector<std::string>& args, const std::string& fix,
                   std::string_view input = {});
  std::string region_;
};

// The first meaningful line of an aws CLI error output.
std::string aws_error_line(const std::string& err);

}  // namespace exo::deploy
