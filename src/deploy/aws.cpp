#include "deploy/aws.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace exo::deploy {

namespace {

constexpr std::string_view kCredentialsFix =
    "run 'aws configure', or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";

const json::object& as_object(const json::value& v) {
  static const json::object empty;
  return v.is_object() ? v.as_object() : empty;
}

const json::array& array_at(const json::object& o, std::string_view key) {
  static const json::array empty;
  auto it = o.find(key);
  return it != o.end() && it->value().is_array() ? it->value().as_array() : empty;
}

}  // namespace

std::string aws_error_line(const std::string& err) {
  for (const auto& line : split_lines(err)) {
    auto t = trim(line);
    if (!t.empty()) return std::string(t);
  }
  return "no error message";
}

Aws::Aws(std::string region) : region_(std::move(region)) {
  if (find_program("aws").empty())
    throw UserError("exo deploy talks to AWS through the aws CLI, which is not installed; install it "
                    "(apt install awscli, or AWS CLI v2) and run again");
}

Aws::Result Aws::run(const std::vector<std::string>& args, std::string_view input) {
  SpawnOptions o;
  o.argv = {"aws"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.argv.insert(o.argv.end(), {"--region", region_, "--output", "json"});
  o.stdin_pipe = !input.empty();
  auto r = run_captured(o, input, std::chrono::minutes(5));
  return {r.timed_out ? 124 : r.exit_code, r.out, r.err};
}

json::value Aws::call(const std::string& step, const std::vector<std::string>& args, const std::string& fix,
                      std::string_view input) {
  Result r = run(args, input);
  if (r.code != 0) throw UserError(step + " failed: " + aws_error_line(r.err) + "; " + fix);
  if (trim(r.out).empty()) return json::object();
  return parse_json(r.out, "the answer of 'aws " + args[0] + " " + (args.size() > 1 ? args[1] : "") + "'");
}

std::string Aws::caller_account() {
  auto v = call("Checking AWS credentials", {"sts", "get-caller-identity"}, std::string(kCredentialsFix));
  std::string account = string_at(as_object(v), "Account");
  if (account.empty()) throw UserError("Checking AWS credentials failed: the answer named no account; " + std::string(kCredentialsFix));
  return account;
}

bool Aws::bucket_exists(const std::string& bucket) {
  Result r = run({"s3api", "head-bucket", "--bucket", bucket});
  if (r.code == 0) return true;
  if (r.err.find("(404)") != std::string::npos || r.err.find("Not Found") != std::string::npos) return false;
  if (r.err.find("(403)") != std::string::npos || r.err.find("Forbidden") != std::string::npos)
    throw UserError("The state bucket " + bucket +
                    " belongs to another AWS account or may not be read; choose another name with "
                    "providers.aws.remote-state-store in application.yml");
  throw UserError("Checking the state bucket " + bucket + " failed: " + aws_error_line(r.err) + "; " +
                  std::string(kCredentialsFix));
}

void Aws::ensure_state_bucket(const std::string& bucket) {
  std::string step = "Preparing the state bucket " + bucket;
  std::string fix = "check that the credentials may manage S3 buckets, then run exo deploy again";
  if (!bucket_exists(bucket)) {
    std::vector<std::string> create = {"s3api", "create-bucket", "--bucket", bucket};
    // us-east-1 is the one region S3 rejects as a location constraint.
    if (region_ != "us-east-1") create.insert(create.end(), {"--create-bucket-configuration", "LocationConstraint=" + region_});
    call(step, create, fix);
  } else {
    auto v = call(step, {"s3api", "get-bucket-location", "--bucket", bucket}, fix);
    std::string location = string_at(as_object(v), "LocationConstraint");
    if (location.empty()) location = "us-east-1";
    if (location != region_)
      throw UserError("The state bucket " + bucket + " is in " + location + ", but this environment deploys to " + region_ +
                      "; set providers.aws.remote-state-store to a bucket in " + region_ + " (or a new name)");
  }
  call(step, {"s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled"}, fix);
  call(step,
       {"s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration",
        R"({"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]})"},
       fix);
  call(step,
       {"s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration",
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"},
       fix);
}

std::optional<HostedZone> Aws::find_hosted_zone(const std::string& domain) {
  std::string fix = "check that the credentials may use Route 53, then run again";
  auto v = call("Looking up the hosted zone " + domain, {"route53", "list-hosted-zones-by-name", "--dns-name", domain}, fix);
  for (const auto& z : array_at(as_object(v), "HostedZones")) {
    const auto& zone = as_object(z);
    bool is_private = false;
    if (auto c = zone.find("Config"); c != zone.end() && c->value().is_object())
      if (auto p = c->value().as_object().find("PrivateZone"); p != c->value().as_object().end() && p->value().is_bool())
        is_private = p->value().as_bool();
    if (string_at(zone, "Name") != domain + "." || is_private) continue;
    HostedZone found{string_at(zone, "Id"), {}};
    auto details = call("Looking up the hosted zone " + domain, {"route53", "get-hosted-zone", "--id", found.id}, fix);
    if (auto d = as_object(details).find("DelegationSet"); d != as_object(details).end())
      for (const auto& ns : array_at(as_object(d->value()), "NameServers"))
        if (ns.is_string()) found.name_servers.emplace_back(ns.as_string());
    return found;
  }
  return std::nullopt;
}

HostedZone Aws::create_hosted_zone(const std::string& domain, const std::string& caller_reference) {
  auto v = call("Creating the hosted zone " + domain,
                {"route53", "create-hosted-zone", "--name", domain, "--caller-reference", caller_reference},
                "check that the credentials may use Route 53 and that " + domain + " is a domain name, then run again");
  HostedZone zone;
  const auto& o = as_object(v);
  if (auto z = o.find("HostedZone"); z != o.end()) zone.id = string_at(as_object(z->value()), "Id");
  if (auto d = o.find("DelegationSet"); d != o.end())
    for (const auto& ns : array_at(as_object(d->value()), "NameServers"))
      if (ns.is_string()) zone.name_servers.emplace_back(ns.as_string());
  return zone;
}

void Aws::delete_hosted_zone(const HostedZone& zone, const std::string& domain) {
  Result r = run({"route53", "delete-hosted-zone", "--id", zone.id});
  if (r.code == 0) return;
  if (r.err.find("HostedZoneNotEmpty") != std::string::npos)
    throw UserError("Removing the hosted zone " + domain +
                    " failed: it still holds records exo did not create; delete them in Route 53 and run exo deploy --nuke again");
  throw UserError("Removing the hosted zone " + domain + " failed: " + aws_error_line(r.err) +
                  "; check that the credentials may use Route 53, then run exo deploy --nuke again");
}

void Aws::ensure_repository(const std::string& name) {
  Result r = run({"ecr", "describe-repositories", "--repository-names", name});
  if (r.code == 0) return;
  if (r.err.find("RepositoryNotFoundException") == std::string::npos)
    throw UserError("Looking up the ECR repository " + name + " failed: " + aws_error_line(r.err) +
                    "; check that the credentials may use ECR");
  call("Creating the ECR repository " + name,
       {"ecr", "create-repository", "--repository-name", name, "--image-scanning-configuration", "scanOnPush=true"},
       "check that the credentials may create ECR repositories");
}

std::string Aws::registry_password() {
  Result r = run({"ecr", "get-login-password"});
  if (r.code != 0)
    throw UserError("Logging in to ECR failed: " + aws_error_line(r.err) + "; check that the credentials may use ECR");
  return std::string(trim(r.out));
}

std::vector<std::string> Aws::secret_names(const std::string& path) {
  auto v = call("Reading the secrets under " + path, {"ssm", "get-parameters-by-path", "--path", path},
                "check that the credentials may read SSM Parameter Store");
  std::vector<std::string> names;
  for (const auto& p : array_at(as_object(v), "Parameters")) {
    std::string name = string_at(as_object(p), "Name");
    if (name.starts_with(path)) names.push_back(name.substr(path.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

void Aws::put_secret(const std::string& name, const std::string& value, bool overwrite) {
  std::vector<std::string> args = {"ssm", "put-parameter", "--name", name, "--type", "SecureString", "--value", "file:///dev/stdin"};
  if (overwrite) args.push_back("--overwrite");
  call("Storing the secret " + name, args, "check that the credentials may write SSM Parameter Store", value);
}

void Aws::delete_secrets(const std::vector<std::string>& names) {
  std::vector<std::string> args = {"ssm", "delete-parameters", "--names"};
  args.insert(args.end(), names.begin(), names.end());
  call("Deleting secrets", args, "check that the credentials may write SSM Parameter Store");
}

}  // namespace exo::deploy
