// exo generate terraform: golden files for SpaceTweet and two fixtures, determinism, --check,
// `terraform fmt -check` when a terraform binary is installed, and configuration errors.
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {

const fs::path kSource = EXO_SOURCE_DIR;

// An application ready for `exo generate terraform` in a sandbox, as a user has it.
fs::path setup_app(Sandbox& box, const std::string& name) {
  if (name == "space-tweet") {
    // As shipped: its generic services are found at ../../services.
    copy_tree(kSource / "examples/space-tweet", box / "examples/space-tweet");
    fs::remove_all(box / "examples/space-tweet/web-server/build");
    fs::create_directory_symlink(kSource / "services", box / "services");
    return box / "examples/space-tweet";
  }
  copy_tree(kSource / "tests/fixtures/deploy" / name, box / name);
  return box / name;
}

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenTerraform : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTerraform, MatchesTheGoldenFiles) {
  Sandbox box;
  fs::path app = setup_app(box, GetParam());
  auto r = run_exo({"generate", "terraform"}, app);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  fs::path golden = kSource / "tests/golden/terraform" / GetParam();
  bool update = std::getenv("EXO_UPDATE_GOLDEN") != nullptr;
  std::vector<std::string> expected;
  for (const auto& f : files_under(app / "terraform")) {
    std::string generated = read_file(app / "terraform" / f);
    if (f.starts_with("modules/")) {
      // The modules are exo's own, written as they are in the repository.
      EXPECT_EQ(generated, read_file(kSource / "src/deploy" / f)) << f;
      continue;
    }
    expected.push_back(f);
    if (update) write_file(golden / f, generated);
    EXPECT_EQ(generated, read_file(golden / f)) << f << " differs from " << (golden / f).string()
                                                << " (EXO_UPDATE_GOLDEN=1 rewrites the golden files)";
  }
  EXPECT_EQ(expected, files_under(golden)) << "generated files and golden files differ";
  EXPECT_EQ(files_under(app / "terraform/modules"),
            (std::vector<std::string>{"ecs-cluster/main.tf", "execution-role/main.tf", "exocom/main.tf",
                                      "load-balancer/main.tf", "monitoring/main.tf", "nats/main.tf", "network/main.tf",
                                      "service/main.tf"}));
}

TEST_P(GoldenTerraform, IsFormattedAsTerraformFmtWould) {
  std::string terraform = find_program("terraform");
  if (terraform.empty()) GTEST_SKIP() << "no terraform binary on PATH";
  Sandbox box;
  fs::path app = setup_app(box, GetParam());
  ASSERT_EQ(run_exo({"generate", "terraform"}, app).exit_code, 0);
  SpawnOptions o;
  o.argv = {terraform, "fmt", "-check", "-recursive", "-no-color", "."};
  o.cwd = app / "terraform";
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 0) << "terraform fmt would change: " << r.out << r.err;
}

TEST_P(GoldenTerraform, IsDeterministicAndCheckable) {
  Sandbox box;
  fs::path app = setup_app(box, GetParam());
  ASSERT_EQ(run_exo({"generate", "terraform"}, app).exit_code, 0);
  std::map<std::string, std::string> first;
  for (const auto& f : files_under(app / "terraform")) first[f] = read_file(app / "terraform" / f);
  auto again = run_exo({"generate", "terraform"}, app);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "terraform/ is up to date\n");
  for (const auto& [f, text] : first) EXPECT_EQ(read_file(app / "terraform" / f), text) << f;
  auto check = run_exo({"generate", "terraform", "--check"}, app);
  EXPECT_EQ(check.exit_code, 0) << check.err;

  write_file(app / "terraform/main.tf", first["main.tf"] + "# edited\n");
  fs::remove(app / "terraform/modules/network/main.tf");
  check = run_exo({"generate", "terraform", "--check"}, app);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(check.err,
            "out of date or missing: terraform/main.tf, terraform/modules/network/main.tf; run 'exo generate terraform'\n");
}

TEST(GenerateTerraform, RemovesWhatItNoLongerGenerates) {
  Sandbox box;
  fs::path app = setup_app(box, "todo-app");
  ASSERT_EQ(run_exo({"generate", "terraform"}, app).exit_code, 0);
  write_file(app / "terraform/staging.images.tfvars.json", "{}\n");
  write_file(app / "terraform/modules/retired/main.tf", "# an old module\n");
  // staging leaves application.yml.
  std::string yml = read_file(app / "application.yml");
  write_file(app / "application.yml", yml.substr(0, yml.find("  staging:")));
  auto check = run_exo({"generate", "terraform", "--check"}, app);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(check.err, "no longer generated: terraform/modules/retired/main.tf, terraform/staging.images.tfvars.json, "
                       "terraform/staging.tfvars.json; run 'exo generate terraform'\n");
  auto r = run_exo({"generate", "terraform"}, app);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "removed terraform/modules/retired/main.tf\nremoved terraform/staging.images.tfvars.json\n"
                   "removed terraform/staging.tfvars.json\n");
  EXPECT_FALSE(fs::exists(app / "terraform/modules/retired"));
  EXPECT_FALSE(fs::exists(app / "terraform/staging.tfvars.json"));
  EXPECT_TRUE(fs::exists(app / "terraform/production.tfvars.json"));
  EXPECT_EQ(run_exo({"generate", "terraform", "--check"}, app).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Apps, GoldenTerraform, ::testing::Values("space-tweet", "todo-app", "pipeline"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

void small_app(Sandbox& box, std::string_view app_yml, std::string_view web_yml) {
  box.write("application.yml", app_yml);
  box.write("web/service.yml", web_yml);
}

constexpr std::string_view kWeb = R"(
  messages:
    sends: [a]
    receives: [a]
  production:
    url: www.example.com
    aws:
      public-port: 3000
      cpu: 256
      memory: 512
)";

TEST(GenerateTerraformErrors, NamesEveryMissingKeyAtOnce) {
  Sandbox box;
  small_app(box, R"(
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
        providers:
          docker-hub:
            namespace: shop
  )", R"(
    messages:
      sends: [a]
    production:
      health-check: /health
  )");
  box.write("worker/service.yml", "messages:\n  receives: [a]\n");
  auto r = run_exo({"generate", "terraform"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "Error: the configuration is not ready to deploy:\n"
            "  web/service.yml:3: production.aws.cpu: is required for deploy (CPU units for its container, like 256 (1024 = one vCPU))\n"
            "  web/service.yml:3: production.aws.memory: is required for deploy (memory for its container in MiB, like 512)\n"
            "  web/service.yml:3: production.aws.public-port: is required for deploy (the port its server listens on, like 3000)\n"
            "  worker/service.yml:1: production.aws.cpu: is required for deploy (CPU units for its container, like 256 (1024 = one vCPU))\n"
            "  worker/service.yml:1: production.aws.memory: is required for deploy (memory for its container in MiB, like 512)\n"
            "  application.yml:10: environments.production.domain: is required for deploy (the domain of its public DNS zone, like example.com)\n"
            "  application.yml:10: environments.production.providers.aws.region: is required for deploy (the AWS region to deploy to, like us-west-2)\n"
            "  web/service.yml: production.url: is required for deploy (the host name public role 'web' answers on, like www.example.com)\n");
  EXPECT_FALSE(fs::exists(box / "terraform"));
}

struct BadDeployConfig {
  std::string name;
  std::string application;
  std::string message;
  friend void PrintTo(const BadDeployConfig& c, std::ostream* os) { *os << c.name; }
};

class GenerateTerraformBadInput : public ::testing::TestWithParam<BadDeployConfig> {};

TEST_P(GenerateTerraformBadInput, FailsWithAnActionableMessage) {
  Sandbox box;
  small_app(box, GetParam().application, kWeb);
  auto r = run_exo({"generate", "terraform"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: " + GetParam().message + "\n");
  EXPECT_FALSE(fs::exists(box / "terraform"));
}

constexpr std::string_view kEnv = R"(
environments:
  production:
    domain: example.com
    providers:
      aws:
        region: us-west-2
)";

INSTANTIATE_TEST_SUITE_P(
    Cases, GenerateTerraformBadInput,
    ::testing::Values(
        BadDeployConfig{"no_environments", "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n",
                        "application.yml has no environments; add environments.production with a domain and "
                        "providers.aws.region (see docs/deploy.md)"},
        BadDeployConfig{"app_name_without_letters",
                        "name: '!!!'\nservices:\n  public:\n    web:\n      location: ./web\n" + std::string(kEnv),
                        "the configuration is not ready to deploy:\n  application.yml:1: name: '!!!' cannot form AWS "
                        "resource names; use a name that starts with a letter, like my-app"},
        BadDeployConfig{"docker_image_role",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n  private:\n    search:\n"
                        "      docker-image: acme/search:1.0\n" + std::string(kEnv),
                        "the configuration is not ready to deploy:\n  application.yml:7: services.private.search: runs "
                        "the image 'acme/search:1.0'; exo deploy builds services from their folders, so give this role "
                        "a 'location'"},
        BadDeployConfig{"url_outside_the_domain",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n"
                        "environments:\n  production:\n    domain: shop.org\n    providers:\n      aws:\n"
                        "        region: us-west-2\n",
                        "the configuration is not ready to deploy:\n  application.yml:7: environments.production.urls.web: "
                        "'www.example.com' (the URL of web) is outside the domain shop.org; set a host name inside it here"},
        BadDeployConfig{"bad_secret_name",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n"
                        "environments:\n  production:\n    domain: example.com\n    secrets: [db-url]\n    providers:\n"
                        "      aws:\n        region: us-west-2\n",
                        "application.yml:9: environments.production.secrets[0]: 'db-url' is not a valid secret name; use "
                        "letters, digits and '_', like DATABASE_URL"},
        BadDeployConfig{"bad_account_id",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n"
                        "environments:\n  production:\n    domain: example.com\n    providers:\n      aws:\n"
                        "        region: us-west-2\n        account-id: '12345'\n",
                        "application.yml:12: environments.production.providers.aws.account-id: '12345' is not an AWS "
                        "account id (12 digits, quoted so YAML keeps leading zeros)"},
        BadDeployConfig{"bad_state_bucket",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n"
                        "environments:\n  production:\n    domain: example.com\n    providers:\n      aws:\n"
                        "        region: us-west-2\n        remote-state-store: My_Bucket\n",
                        "the configuration is not ready to deploy:\n  application.yml:12: "
                        "environments.production.providers.aws.remote-state-store: 'My_Bucket' is not a valid S3 "
                        "bucket name: may hold only lower-case letters, digits, '-' and '.'"},
        BadDeployConfig{"exocom_nodes_out_of_range",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n" + std::string(kEnv) +
                            "    exocom: {nodes: 12}\n",
                        "the configuration is not ready to deploy:\n  application.yml:13: "
                        "environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
                        "found '12'"},
        BadDeployConfig{"url_for_an_unknown_role",
                        "name: shop\nservices:\n  public:\n    web:\n      location: ./web\n"
                        "environments:\n  production:\n    domain: example.com\n    urls:\n      api: api.example.com\n",
                        "application.yml:10: environments.production.urls.api: 'api' is not a role of this application"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
