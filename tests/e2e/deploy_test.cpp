// exo deploy, --teardown, --nuke and exo configure against recording stand-ins for aws, docker
// and terraform placed first on PATH: the exact commands, their order, the prompts, and what
// happens when each step fails.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <regex>

#include "common/text.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {

constexpr std::string_view kAccount = "111122223333";
constexpr std::string_view kBucket = "shop-production-terraform-111122223333";
constexpr std::string_view kAws = " --region eu-west-1 --output json";
constexpr std::string_view kNotFound = "\nAn error occurred (404) when calling the HeadBucket operation: Not Found\n";

class Deploy : public ::testing::Test {
 protected:
  void SetUp() override {
    write_app("");
    git(box.path(), {"init", "-q"});
    git(box.path(), {"add", "."});
    git(box.path(), {"commit", "-q", "-m", "shop"});
    aws.on("sts get-caller-identity", 0, R"({"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/dev"})");
    aws.on("s3api head-bucket", 254, "", std::string(kNotFound));
    aws.on("route53 list-hosted-zones-by-name", 0, R"({"HostedZones": []})");
    aws.on("route53 create-hosted-zone", 0,
           R"({"HostedZone": {"Id": "/hostedzone/Z1"}, "DelegationSet": {"NameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"]}})");
    docker.on("manifest inspect", 1, "", "no such manifest\n");
    terraform.on("version -json", 0, R"({"terraform_version": "1.11.4", "platform": "linux_amd64"})");
    terraform.on("output -json", 0,
                 R"({"urls": {"value": {"web": "https://www.shop.example.com"}}, "name_servers": {"value": ["ns-1.awsdns-01.org"]}})");
  }

  // `extra_env`: more keys of environments.production, indented by six spaces.
  void write_app(const std::string& extra_env) {
    box.write("application.yml", R"(
      name: shop
      services:
        public:
          web:
            location: ./web
        private:
          worker:
            location: ./worker
      environments:
        production:
          domain: shop.example.com
          providers:
            aws:
              region: eu-west-1
            docker-hub:
              namespace: shopco
    )" + extra_env);
    box.write("web/service.yml", R"(
      messages:
        sends: [job.start]
        receives: [job.done]
      production:
        url: www.shop.example.com
        aws:
          public-port: 3000
          cpu: 256
          memory: 512
    )");
    box.write("worker/service.yml", R"(
      messages:
        sends: [job.done]
        receives: [job.start]
      production:
        aws:
          cpu: 128
          memory: 256
    )");
    box.write("web/Dockerfile", "FROM debian:12-slim\n");
    box.write("worker/Dockerfile", "FROM debian:12-slim\n");
  }

  RunResult exo(const std::vector<std::string>& args, std::string_view input = {}, std::string path = {}) {
    if (path.empty()) path = StandIn::path_with(aws.path_dir());
    return run_exo(args, box.path(), input, {{"PATH", path}});
  }

  std::string tag(const std::string& folder) { return std::string(trim(git(box / folder, {"rev-list", "-1", "HEAD", "--", "."}))).substr(0, 12); }

  // Every call, with the hosted zone's time-based caller reference made stable.
  std::vector<std::string> calls() {
    std::vector<std::string> out;
    for (auto c : StandIn::all_calls(box)) out.push_back(std::regex_replace(c, std::regex("production-[0-9]+ "), "production-TIME "));
    return out;
  }

  std::vector<std::string> image_calls(const std::string& image, const std::string& folder) {
    return {"docker manifest inspect " + image,
            "docker build " + host_ca_build_flag() + "--platform linux/amd64 --tag " + image + " " + (box / folder).string(),
            "docker push " + image};
  }

  // exo asks whether a Docker daemon answers before it builds (else it uses Podman).
  static constexpr const char* kEngineProbe = "docker info --format {{.ServerVersion}}";

  static std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  std::vector<std::string> new_bucket_calls() {
    std::string b(kBucket), a(kAws);
    return {"aws s3api head-bucket --bucket " + b + a,
            "aws s3api create-bucket --bucket " + b + " --create-bucket-configuration LocationConstraint=eu-west-1" + a,
            "aws s3api put-bucket-versioning --bucket " + b + " --versioning-configuration Status=Enabled" + a,
            "aws s3api put-bucket-encryption --bucket " + b +
                R"( --server-side-encryption-configuration {"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]})" + a,
            "aws s3api put-public-access-block --bucket " + b +
                " --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true" + a};
  }

  std::vector<std::string> terraform_calls(bool destroy = false) {
    std::string plan = "terraform plan -input=false -out=production.tfplan -var-file=production.tfvars.json "
                       "-var-file=production.images.tfvars.json";
    return {"terraform init -input=false -reconfigure -backend-config=bucket=" + std::string(kBucket) +
                " -backend-config=key=exosphere/shop/production.tfstate -backend-config=region=eu-west-1",
            destroy ? plan + " -destroy" : plan, "terraform apply -input=false production.tfplan"};
  }

  Sandbox box;
  StandIn aws{box, "aws"}, docker{box, "docker"}, terraform{box, "terraform"};
};

TEST_F(Deploy, DeploysAfterConfirmation) {
  auto r = exo({"deploy"}, "y\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string web = "shopco/shop-web:" + tag("web"), worker = "shopco/shop-worker:" + tag("worker");
  std::string a(kAws);
  EXPECT_EQ(calls(), concat({{"terraform version -json", "aws sts get-caller-identity" + a}, new_bucket_calls(),
                             {"aws route53 list-hosted-zones-by-name --dns-name shop.example.com" + a,
                              "aws route53 create-hosted-zone --name shop.example.com --caller-reference exo-shop-production-TIME" + a},
                             {kEngineProbe}, image_calls(web, "web"), image_calls(worker, "worker"), terraform_calls(),
                             {"terraform output -json"}}));
  EXPECT_NE(r.out.find("Deploying shop to production\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Point the domain at these name servers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("      ns-1.awsdns-01.org\n      ns-2.awsdns-02.net\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Apply this plan to production? [y/N] "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shop is deployed to production.\n    web: https://www.shop.example.com\n"), std::string::npos) << r.out;
  EXPECT_EQ(box.read("terraform/production.images.tfvars.json"),
            "{\n  \"images\": {\n    \"web\": \"" + web + "\",\n    \"worker\": \"" + worker + "\"\n  }\n}\n");
  EXPECT_TRUE(fs::exists(box / "terraform/main.tf"));
  EXPECT_TRUE(fs::exists(box / "terraform/modules/service/main.tf"));
}

TEST_F(Deploy, ASecondRunReusesTheBucketTheZoneAndTheImages) {
  aws.on("s3api head-bucket", 0);
  aws.on("s3api get-bucket-location", 0, R"({"LocationConstraint": "eu-west-1"})");
  aws.on("route53 list-hosted-zones-by-name", 0,
         R"({"HostedZones": [{"Id": "/hostedzone/Z0", "Name": "other.com.", "Config": {"PrivateZone": false}},
                             {"Id": "/hostedzone/Z9", "Name": "shop.example.com.", "Config": {"PrivateZone": true}},
                             {"Id": "/hostedzone/Z1", "Name": "shop.example.com.", "Config": {"PrivateZone": false}}]})");
  aws.on("route53 get-hosted-zone", 0, R"({"DelegationSet": {"NameServers": ["ns-7.awsdns-07.com"]}})");
  docker.on("manifest inspect", 0, "{}");
  auto r = exo({"deploy", "production", "--auto-approve"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string b(kBucket), a(kAws);
  auto bucket_settings = new_bucket_calls();
  bucket_settings.erase(bucket_settings.begin(), bucket_settings.begin() + 2);
  EXPECT_EQ(calls(), concat({{"terraform version -json", "aws sts get-caller-identity" + a,
                              "aws s3api head-bucket --bucket " + b + a, "aws s3api get-bucket-location --bucket " + b + a},
                             bucket_settings,
                             {"aws route53 list-hosted-zones-by-name --dns-name shop.example.com" + a,
                              "aws route53 get-hosted-zone --id /hostedzone/Z1" + a, kEngineProbe,
                              "docker manifest inspect shopco/shop-web:" + tag("web"),
                              "docker manifest inspect shopco/shop-worker:" + tag("worker")},
                             terraform_calls(), {"terraform output -json"}}));
  EXPECT_NE(r.out.find("name servers: ns-7.awsdns-07.com"), std::string::npos);
  EXPECT_NE(r.out.find("web: shopco/shop-web:" + tag("web") + " is already in the registry"), std::string::npos);
  EXPECT_EQ(r.out.find("[y/N]"), std::string::npos);
}

TEST_F(Deploy, DecliningAppliesNothing) {
  auto r = exo({"deploy"}, "n\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("Deployment abandoned: the plan was not applied."), std::string::npos);
  for (const auto& c : calls()) EXPECT_FALSE(c.starts_with("terraform apply")) << c;
}

TEST_F(Deploy, WithoutAnAnswerItStopsAndNamesTheFlag) {
  auto r = exo({"deploy"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: no answer to 'Apply this plan to production?'; answer it or pass --auto-approve\n");
  for (const auto& c : calls()) EXPECT_FALSE(c.starts_with("terraform apply")) << c;
}

TEST_F(Deploy, MissingCredentialsStopBeforeAnyChange) {
  aws.on("sts get-caller-identity", 255, "", "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".\n");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "Error: Checking AWS credentials failed: Unable to locate credentials. You can configure credentials by running "
            "\"aws configure\".; run 'aws configure', or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n");
  EXPECT_EQ(calls(), (std::vector<std::string>{"terraform version -json", "aws sts get-caller-identity" + std::string(kAws)}));
}

TEST_F(Deploy, CredentialsOfAnotherAccountAreRefused) {
  auto text = box.read("application.yml");
  text.replace(text.find("region: eu-west-1\n"), 18, "region: eu-west-1\n        account-id: '999999999999'\n");
  box.write("application.yml", text);
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: the AWS credentials are for account 111122223333, but environments.production.providers.aws.account-id "
                   "is 999999999999; use credentials of that account (AWS_PROFILE)\n");
  EXPECT_EQ(calls().size(), 2u);
}

TEST_F(Deploy, AStateBucketInAnotherRegionIsRefused) {
  aws.on("s3api head-bucket", 0);
  aws.on("s3api get-bucket-location", 0, R"({"LocationConstraint": null})");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: The state bucket " + std::string(kBucket) +
                       " is in us-east-1, but this environment deploys to eu-west-1; set providers.aws.remote-state-store "
                       "to a bucket in eu-west-1 (or a new name)\n");
  for (const auto& c : calls()) EXPECT_FALSE(c.starts_with("terraform init") || c.starts_with("docker build")) << c;
}

TEST_F(Deploy, AStateBucketOfSomeoneElseIsRefused) {
  aws.on("s3api head-bucket", 254, "", "\nAn error occurred (403) when calling the HeadBucket operation: Forbidden\n");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: The state bucket " + std::string(kBucket) +
                       " belongs to another AWS account or may not be read; choose another name with "
                       "providers.aws.remote-state-store in application.yml\n");
}

TEST_F(Deploy, AFailedPushStopsBeforeTerraformAndTheNextRunContinues) {
  std::string web = "shopco/shop-web:" + tag("web");
  docker.on("push " + web, 1, "", "denied: requested access to the resource is denied\n");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "denied: requested access to the resource is denied\nError: Pushing the image of web failed (docker exited with 1); run 'docker login' with an account "
                   "that may push to shopco/ on DockerHub\n");
  auto first = calls();
  EXPECT_EQ(first.back(), "docker push " + web);
  for (const auto& c : first) EXPECT_FALSE(c.starts_with("terraform init")) << c;

  // Fixed: the bucket and zone now exist; the run picks up where the last one stopped.
  docker.on("push " + web, 0);
  aws.on("s3api head-bucket", 0);
  aws.on("s3api get-bucket-location", 0, R"({"LocationConstraint": "eu-west-1"})");
  aws.on("route53 list-hosted-zones-by-name", 0, R"({"HostedZones": [{"Id": "/hostedzone/Z1", "Name": "shop.example.com."}]})");
  r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto all = calls();
  std::vector<std::string> second(all.begin() + static_cast<long>(first.size()), all.end());
  for (const auto& c : second) {
    EXPECT_FALSE(c.find("create-bucket") != std::string::npos || c.find("create-hosted-zone") != std::string::npos) << c;
  }
  EXPECT_EQ(std::vector<std::string>(second.end() - 4, second.end()), concat({terraform_calls(), {"terraform output -json"}}));
}

TEST_F(Deploy, AFailedBuildNamesTheDockerfile) {
  docker.on("build", 1);
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Building the image of web failed (docker exited with 1); fix web/Dockerfile (its output is above) "
                   "and run exo deploy again\n");
}

TEST_F(Deploy, FailingTerraformStepsAreNamed) {
  terraform.on("apply", 1, "", "Error: creating ECS Service: AccessDenied\n");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: creating ECS Service: AccessDenied\nError: terraform apply failed (terraform exited with 1); see its output above; what was applied is in "
                   "the state, so run exo deploy again to continue\n");
  EXPECT_EQ(calls().back(), terraform_calls().back());

  terraform.on("init", 1);
  r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: terraform init failed (terraform exited with 1); see its output above; then run exo deploy again\n");
}

TEST_F(Deploy, AServiceWithoutDockerfileStopsBeforeAnyChange) {
  fs::remove(box / "worker/Dockerfile");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: worker/Dockerfile: not found; exo deploy builds the image of role 'worker' from it (see "
                   "docs/deploy.md for a production Dockerfile)\n");
  EXPECT_EQ(calls().size(), 2u);  // terraform version, sts
}

TEST_F(Deploy, AnUncommittedServiceGetsADirtyTagAndIsAlwaysBuilt) {
  docker.on("manifest inspect", 0, "{}");
  box.write("web/src/new.cpp", "int x;\n");
  auto r = exo({"deploy", "--auto-approve"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  std::string images = box.read("terraform/production.images.tfvars.json");
  ASSERT_TRUE(std::regex_search(images, m, std::regex("shopco/shop-web:" + tag("web") + "-dirty-[0-9a-f]{8}")));
  std::string dirty = m.str();
  auto all = calls();
  EXPECT_NE(std::find(all.begin(), all.end(), "docker push " + dirty), all.end());
  EXPECT_NE(images.find("shopco/shop-worker:" + tag("worker") + "\""), std::string::npos);

  // Another change, another tag: deploying again deploys the change.
  box.write("web/src/new.cpp", "int y;\n");
  ASSERT_EQ(exo({"deploy", "--auto-approve"}).exit_code, 0);
  EXPECT_EQ(box.read("terraform/production.images.tfvars.json").find(dirty), std::string::npos);
}

TEST_F(Deploy, AnApplicationOutsideGitCannotTagImages) {
  fs::remove_all(box / ".git");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: web has no git commit; exo deploy tags images with the last commit of each service folder: "
                   "commit it (git add, git commit) and run again\n");
}

TEST_F(Deploy, PushesToEcrWithRegistryEcr) {
  aws.on("ecr describe-repositories --repository-names shop/web", 254, "",
         "\nAn error occurred (RepositoryNotFoundException) when calling the DescribeRepositories operation\n");
  aws.on("ecr get-login-password", 0, "ecr-token\n");
  auto r = exo({"deploy", "--registry", "ecr", "--auto-approve"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string host = "111122223333.dkr.ecr.eu-west-1.amazonaws.com", a(kAws);
  auto all = calls();
  auto from = std::find(all.begin(), all.end(), "aws ecr describe-repositories --repository-names shop/web" + a);
  ASSERT_NE(from, all.end());
  EXPECT_EQ(std::vector<std::string>(from, from + 5),
            (std::vector<std::string>{
                "aws ecr describe-repositories --repository-names shop/web" + a,
                "aws ecr create-repository --repository-name shop/web --image-scanning-configuration scanOnPush=true" + a,
                "aws ecr describe-repositories --repository-names shop/worker" + a, "aws ecr get-login-password" + a,
                "docker login --username AWS --password-stdin " + host}));
  EXPECT_EQ(*(from + 5), "docker manifest inspect " + host + "/shop/web:" + tag("web"));
  EXPECT_NE(box.read("terraform/production.images.tfvars.json").find(host + "/shop/worker:" + tag("worker")), std::string::npos);
}

TEST_F(Deploy, TheLoginPasswordTravelsOnStandardInput) {
  aws.on("ecr get-login-password", 0, "ecr-token\n");
  docker.on("login", 0, "Login Succeeded\n", "", true);
  ASSERT_EQ(exo({"deploy", "--registry", "ecr", "--auto-approve"}).exit_code, 0);
  EXPECT_EQ(docker.stdin_received(), "ecr-token");
}

TEST_F(Deploy, DockerHubNeedsANamespace) {
  auto text = box.read("application.yml");
  text.erase(text.find("      docker-hub:\n"));
  box.write("application.yml", text);
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: application.yml: environments.production.providers.docker-hub.namespace: is required to push "
                   "images to DockerHub (your DockerHub user or organization); set it, or deploy with --registry ecr\n");
}

TEST_F(Deploy, MissingSecretsAreNamedWithTheCommandThatSetsThem) {
  write_app("      secrets: [DATABASE_URL, API_KEY]\n");
  aws.on("ssm get-parameters-by-path", 0, R"({"Parameters": [{"Name": "/exo/shop/production/API_KEY", "Type": "SecureString"}]})");
  auto r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: the secret DATABASE_URL is not set for production; run 'exo configure create production' and run "
                   "exo deploy again\n");
  EXPECT_EQ(calls().back(), "aws ssm get-parameters-by-path --path /exo/shop/production/" + std::string(kAws));

  aws.on("ssm get-parameters-by-path", 0,
         R"({"Parameters": [{"Name": "/exo/shop/production/API_KEY"}, {"Name": "/exo/shop/production/DATABASE_URL"}]})");
  git(box.path(), {"commit", "-qam", "secrets"});
  r = exo({"deploy", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto tfvars = box.read("terraform/production.tfvars.json");
  EXPECT_NE(tfvars.find("\"web\": [\n      \"API_KEY\",\n      \"DATABASE_URL\"\n    ]"), std::string::npos) << tfvars;
}

TEST_F(Deploy, TeardownPlansAsksAndDestroys) {
  aws.on("s3api head-bucket", 0);
  auto r = exo({"deploy", "--teardown"}, "yes\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string a(kAws);
  EXPECT_EQ(calls(), concat({{"terraform version -json", "aws sts get-caller-identity" + a,
                              "aws s3api head-bucket --bucket " + std::string(kBucket) + a},
                             terraform_calls(true)}));
  EXPECT_TRUE(r.out.starts_with("You are about to tear down shop in production: every service and all infrastructure.\n"
                                "The state bucket, the hosted zone shop.example.com and the secrets remain.\n"))
      << r.out;
  EXPECT_NE(r.out.find("Destroy everything listed above? Are you sure? [y/N] "), std::string::npos);
  EXPECT_NE(r.out.find("shop is torn down in production.\n"), std::string::npos);
}

TEST_F(Deploy, TeardownDeclinedDestroysNothing) {
  aws.on("s3api head-bucket", 0);
  auto r = exo({"deploy", "--teardown"}, "no\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("Teardown abandoned: nothing was changed."), std::string::npos);
  for (const auto& c : calls()) EXPECT_FALSE(c.starts_with("terraform apply")) << c;
}

TEST_F(Deploy, TeardownWithoutStateHasNothingToDo) {
  auto r = exo({"deploy", "--teardown"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("it does not exist: nothing of shop is deployed to production"), std::string::npos);
  EXPECT_EQ(calls().size(), 3u);
}

TEST_F(Deploy, NukeAlsoRemovesTheHostedZone) {
  aws.on("s3api head-bucket", 0);
  aws.on("route53 list-hosted-zones-by-name", 0, R"({"HostedZones": [{"Id": "/hostedzone/Z1", "Name": "shop.example.com."}]})");
  auto r = exo({"deploy", "--nuke"}, "y\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string a(kAws);
  EXPECT_EQ(calls(), concat({{"terraform version -json", "aws sts get-caller-identity" + a,
                              "aws s3api head-bucket --bucket " + std::string(kBucket) + a},
                             terraform_calls(true),
                             {"aws route53 list-hosted-zones-by-name --dns-name shop.example.com" + a,
                              "aws route53 get-hosted-zone --id /hostedzone/Z1" + a,
                              "aws route53 delete-hosted-zone --id /hostedzone/Z1" + a}}));
  EXPECT_NE(r.out.find("Destroy everything listed above and the hosted zone shop.example.com? Are you sure? [y/N] "),
            std::string::npos);
}

TEST_F(Deploy, NukeExplainsAZoneWithForeignRecords) {
  aws.on("s3api head-bucket", 0);
  aws.on("route53 list-hosted-zones-by-name", 0, R"({"HostedZones": [{"Id": "/hostedzone/Z1", "Name": "shop.example.com."}]})");
  aws.on("route53 delete-hosted-zone", 254, "", "\nAn error occurred (HostedZoneNotEmpty) when calling the DeleteHostedZone operation\n");
  auto r = exo({"deploy", "--nuke", "--auto-approve"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Removing the hosted zone shop.example.com failed: it still holds records exo did not create; "
                   "delete them in Route 53 and run exo deploy --nuke again\n");
}

TEST_F(Deploy, TerraformRunsInDockerWhenOnlyDockerIsInstalled) {
  fs::remove(box / "stand-ins/terraform");
  docker.on("manifest inspect", 0, "{}");
  auto r = exo({"deploy", "--auto-approve"}, {}, aws.path_dir() + ":/usr/bin:/bin");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string prefix = "docker run --rm -i --user " + std::to_string(getuid()) + ":" + std::to_string(getgid()) + " -v " +
                       (box / "terraform").string() + ":/workspace -w /workspace -v ";
  std::vector<std::string> terraform_runs;
  for (const auto& c : calls())
    if (c.starts_with("docker run")) terraform_runs.push_back(c);
  ASSERT_EQ(terraform_runs.size(), 4u);
  for (const auto& c : terraform_runs) {
    EXPECT_TRUE(c.starts_with(prefix)) << c;
    EXPECT_NE(c.find(" -e AWS_PROFILE -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN -e AWS_REGION "
                     "hashicorp/terraform:1.11 "),
              std::string::npos)
        << c;
  }
  EXPECT_TRUE(terraform_runs[0].ends_with("hashicorp/terraform:1.11 " + terraform_calls()[0].substr(10)));
  EXPECT_TRUE(terraform_runs[3].ends_with("hashicorp/terraform:1.11 output -json"));
}

TEST_F(Deploy, WithoutTerraformAndDockerItSaysWhatToInstall) {
  fs::remove(box / "stand-ins/terraform");
  fs::remove(box / "stand-ins/docker");
  auto r = exo({"deploy"}, {}, aws.path_dir());  // no Podman either
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: exo deploy needs Terraform 1.10 or newer: install it (https://developer.hashicorp.com/terraform/install) "
                   "or install Docker or Podman to run it from the hashicorp/terraform image\n");
  EXPECT_TRUE(calls().empty());
}

TEST_F(Deploy, AnOldTerraformIsRefused) {
  terraform.on("version -json", 0, R"({"terraform_version": "1.5.7"})");
  auto r = exo({"deploy"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Terraform 1.5.7 (" + (box / "stand-ins/terraform").string() +
                       ") is too old: exo deploy needs 1.10 or newer for S3 state locking; install a newer Terraform, or "
                       "remove it from PATH to use Docker\n");
}

TEST_F(Deploy, BadArgumentsAreRefusedBeforeAnyCall) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  for (const auto& c : std::vector<Case>{
           {{"deploy", "production", "staging"}, "Error: exo deploy takes one environment, got 2: production staging; see 'exo deploy help'\n"},
           {{"deploy", "qa"}, "Error: 'qa' is not an environment in application.yml; valid environments: production\n"},
           {{"deploy", "--teardown", "--nuke"}, "Error: --teardown and --nuke exclude each other; --nuke also tears down\n"},
           {{"deploy", "--registry", "quay"}, "Error: --registry must be 'dockerhub' or 'ecr', not 'quay'\n"},
           {{"deploy", "--secrets", "x.env"}, "Error: --secrets goes with --rehearse\n"},
           {{"deploy", "--rehearse", "--teardown"},
            "Error: --rehearse runs on this machine; it does not go with --teardown, --nuke or --auto-approve\n"},
           {{"deploy", "--rehearse", "--port", "80a"}, "Error: --port: '80a' is not a port number (0: any free port)\n"}}) {
    auto r = exo(c.args);
    EXPECT_EQ(r.exit_code, 1) << join(c.args, " ");
    EXPECT_EQ(r.err, c.err);
  }
  EXPECT_TRUE(calls().empty());
}

// exo deploy --rehearse: the secrets come from a local file, each container gets its task
// definition's environment, networks and host names.
TEST_F(Deploy, RehearsalNamesMissingSecretsAndWhereToWriteThem) {
  write_app("      secrets: [DATABASE_URL, API_KEY]\n");
  auto r = exo({"deploy", "--rehearse"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: the services need the secrets API_KEY, DATABASE_URL; write NAME=value lines to "
                   ".exosphere/secrets/production.env (or name another file with --secrets)\n");
  box.write("prod.env", "# the rehearsal's secrets\nAPI_KEY=k\n");
  r = exo({"deploy", "--rehearse", "--secrets", "prod.env"});
  EXPECT_EQ(r.err, "Error: prod.env lacks the secrets DATABASE_URL; write NAME=value lines to prod.env (or name another file "
                   "with --secrets)\n");
  box.write("prod.env", "API_KEY=k\nDATABASE_URL\n");
  r = exo({"deploy", "--rehearse", "--secrets", "prod.env"});
  EXPECT_EQ(r.err, "Error: prod.env:2: expected NAME=value\n");
  EXPECT_TRUE(calls().empty()) << "nothing is built or run before the secrets are complete";
}

TEST_F(Deploy, RehearsalRunsEachContainerAsItsTaskDefinitionSays) {
  write_app("      secrets: [DATABASE_URL]\n");
  box.write(".exosphere/secrets/production.env", "DATABASE_URL=postgres://db/shop?sslmode=disable\n");
  docker.on("info", 0, "27.1.0\n");
  docker.on("network inspect", 1);
  // Each container says it is online and runs for 2 s: long enough for all of them to start.
  docker.on("run", 1, "ExoCom online at port 80\n", "", false, 2);
  auto r = exo({"deploy", "--rehearse", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto all = calls();
  auto run_of = [&](const std::string& role) {
    for (const auto& c : all)
      if (c.rfind("docker run --rm --name shop-production-" + role + " ", 0) == 0) return c;
    return std::string();
  };
  std::smatch port;
  std::string proxy = run_of("load-balancer");
  ASSERT_TRUE(std::regex_search(proxy, port, std::regex("-p 127\\.0\\.0\\.1:([0-9]+):8080"))) << proxy;
  std::string origin = "http://www.shop.example.com.localhost:" + port[1].str();
  EXPECT_EQ(proxy, "docker run --rm --name shop-production-load-balancer --label exosphere.run=shop-production "
                   "--network-alias load-balancer --stop-timeout 6 --network shop-production-public -p 127.0.0.1:" +
                       port[1].str() +
                   ":8080 -v " + (box / ".exosphere/rehearsal/production/sites").string() +
                   ":/etc/exosphere/sites:ro exosphere/proxy:0.1.0");
  std::string exocom = "docker run --rm --name shop-production-exocom --label exosphere.run=shop-production "
                       "--network-alias exocom --stop-timeout 6 --network shop-production-private --network-alias "
                       "exocom.shop-production.internal -e PORT=80 -e SERVICE_DATA={";
  EXPECT_EQ(run_of("exocom").substr(0, exocom.size()), exocom);
  EXPECT_EQ(run_of("worker"),
            "docker run --rm --name shop-production-worker --label exosphere.run=shop-production --network-alias worker "
            "--stop-timeout 6 --network shop-production-private "
            "-e EXOCOM_HOST=exocom.shop-production.internal -e EXOCOM_PORT=80 -e ROLE=worker -e WEB_EXTERNAL_ORIGIN=" +
                origin + " -e DATABASE_URL exo-rehearse/shop-worker:latest");
  // The secret's value goes to the engine in its environment, never on a command line.
  for (const auto& c : all) EXPECT_EQ(c.find("postgres://db/shop"), std::string::npos) << c;
  auto sites = box.read(".exosphere/rehearsal/production/sites/web.conf");
  EXPECT_NE(sites.find("server_name www.shop.example.com.localhost;"), std::string::npos) << sites;
  EXPECT_NE(sites.find("set $target http://web:3000;"), std::string::npos) << sites;
  EXPECT_NE(std::find(all.begin(), all.end(), "docker network create shop-production-public"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "docker network create shop-production-private"), all.end());
  EXPECT_EQ(all.back(), "docker network rm shop-production-private") << "the networks go when the rehearsal ends";
  EXPECT_EQ(box.read(".exosphere/.gitignore"), "data/\nrehearsal/\nsecrets/\n") << "the secrets and the proxy's rules stay out of git";
}

// exo configure: secrets in SSM Parameter Store.
class Configure : public Deploy {
 protected:
  void SetUp() override {
    Deploy::SetUp();
    write_app("      secrets: [DATABASE_URL]\n");
    aws.on("ssm get-parameters-by-path", 0, R"({"Parameters": [{"Name": "/exo/shop/production/API_KEY"}]})");
  }
};

TEST_F(Configure, CreateAsksThenStoresSecureStringsWithTheValueOnStdin) {
  aws.on("ssm put-parameter", 0, R"({"Version": 1})", "", true);
  auto r = exo({"configure", "create"}, "API_KEY\nbad-name\nDATABASE_URL\n\npostgres://u:p@db/shop\ny\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("API_KEY already exists; use 'exo configure update production' to change it"), std::string::npos);
  EXPECT_NE(r.out.find("'bad-name' is not a valid name"), std::string::npos);
  EXPECT_NE(r.out.find("You are creating these secrets in production: DATABASE_URL\nDo you want to continue? [y/N] "),
            std::string::npos);
  std::string a(kAws);
  EXPECT_EQ(calls(), (std::vector<std::string>{
                         "aws ssm get-parameters-by-path --path /exo/shop/production/" + a,
                         "aws ssm put-parameter --name /exo/shop/production/DATABASE_URL --type SecureString --value "
                         "file:///dev/stdin" + a}));
  EXPECT_EQ(aws.stdin_received(), "postgres://u:p@db/shop");
}

namespace {
// Reads the terminal until `needle` appears; false after 10 s.
bool read_until(int terminal, std::string& seen, std::string_view needle) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.find(needle) == std::string::npos) {
    pollfd p{terminal, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) return false;
    char buf[1024];
    ssize_t n = p.revents & POLLIN ? ::read(terminal, buf, sizeof buf) : 0;
    if (n < 0) return false;
    seen.append(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
  }
  return true;
}
}  // namespace

// Ctrl-C while a secret is typed (echo off) ends exo with the terminal echoing again.
TEST_F(Configure, CtrlCAtASecretPromptLeavesTheTerminalEchoing) {
  SpawnOptions o = exo_command({"configure", "create"}, box.path(), {{"PATH", StandIn::path_with(aws.path_dir())}});
  int terminal = -1;
  pid_t pid = forkpty(&terminal, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (const auto& [k, v] : o.env) setenv(k.c_str(), v.c_str(), 1);
    if (chdir(o.cwd.c_str()) != 0) _exit(126);
    std::vector<char*> argv;
    for (auto& a : o.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string seen;
  ASSERT_TRUE(read_until(terminal, seen, "Name of a new secret")) << seen;
  ASSERT_EQ(::write(terminal, "DATABASE_URL\r", 13), 13);
  seen.clear();
  ASSERT_TRUE(read_until(terminal, seen, "Name of a new secret")) << seen;  // another? no: Enter
  ASSERT_EQ(::write(terminal, "\r", 1), 1);
  ASSERT_TRUE(read_until(terminal, seen, "Value of DATABASE_URL:")) << seen;
  termios during{};
  ASSERT_EQ(tcgetattr(terminal, &during), 0);
  EXPECT_FALSE(during.c_lflag & ECHO) << "the secret would be shown";
  ASSERT_EQ(::write(terminal, "\x03", 1), 1);  // Ctrl-C
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  termios after{};
  ASSERT_EQ(tcgetattr(terminal, &after), 0);
  EXPECT_TRUE(after.c_lflag & ECHO) << "the terminal was left without echo";
  ::close(terminal);
}

TEST_F(Configure, ReadListsNamesUsersAndMissingSecretsButNoValues) {
  auto r = exo({"configure", "read", "production"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Secrets of shop in production (/exo/shop/production/):\n"
                   "  API_KEY  (no service uses it)\n"
                   "Missing, run 'exo configure create production': DATABASE_URL (web, worker)\n");
}

TEST_F(Configure, UpdateOverwritesAndDeleteRemoves) {
  auto r = exo({"configure", "update"}, "API_KEY\n\nnew-key\ny\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(calls().back(), "aws ssm put-parameter --name /exo/shop/production/API_KEY --type SecureString --value "
                            "file:///dev/stdin --overwrite" + std::string(kAws));
  r = exo({"configure", "delete"}, "NOPE\nAPI_KEY\n\ny\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NOPE is not stored; stored are API_KEY"), std::string::npos);
  EXPECT_EQ(calls().back(), "aws ssm delete-parameters --names /exo/shop/production/API_KEY" + std::string(kAws));
}

TEST_F(Configure, DecliningStoresNothing) {
  auto r = exo({"configure", "create"}, "DATABASE_URL\n\nsecret\nn\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("Nothing was changed."), std::string::npos);
  EXPECT_EQ(calls().size(), 1u);
}

TEST_F(Configure, AFailedWriteNamesTheStep) {
  aws.on("ssm put-parameter", 254, "", "\nAn error occurred (AccessDeniedException) when calling the PutParameter operation\n");
  auto r = exo({"configure", "create"}, "DATABASE_URL\n\nsecret\ny\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Storing the secret /exo/shop/production/DATABASE_URL failed: An error occurred "
                   "(AccessDeniedException) when calling the PutParameter operation; check that the credentials may "
                   "write SSM Parameter Store\n");
}

TEST_F(Configure, BadArgumentsAreRefused) {
  auto r = exo({"configure"});
  EXPECT_EQ(r.err, "Error: exo configure: say what to do: read, create, update or delete\n");
  r = exo({"configure", "list"});
  EXPECT_EQ(r.err, "Error: exo configure: unknown action 'list'; use read, create, update or delete\n");
  r = exo({"configure", "read", "qa"});
  EXPECT_EQ(r.err, "Error: 'qa' is not an environment in application.yml; valid environments: production\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(calls().empty());
}

}  // namespace
