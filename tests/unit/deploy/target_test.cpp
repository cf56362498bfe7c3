#include <gtest/gtest.h>

#include <set>

#include "common/error.hpp"
#include "common/json.hpp"
#include "deploy/target.hpp"
#include "deploy/terraform.hpp"

using namespace exo;
using namespace exo::deploy;

namespace {

config::Application app(const std::string& yml) {
  config::Warnings w;
  return config::parse_application(yml, "application.yml", "/app", w);
}

config::Service service(const std::string& yml, const std::string& file) {
  config::Warnings w;
  return config::parse_service(yml, file, "/app/x", w);
}

const std::string kApp = R"(name: Shop
services:
  public:
    web: {location: ./web}
  private:
    worker: {location: ./worker}
environments:
  production:
    domain: shop.example.com
    secrets: [DATABASE_URL]
    providers:
      aws: {region: eu-west-1}
  staging:
    domain: staging.shop.example.com
    urls: {web: staging.shop.example.com}
    providers:
      aws: {region: eu-west-1, remote-state-store: shop-staging-state}
)";

std::map<std::string, config::Service> services() {
  return {{"web", service("production: {url: www.shop.example.com, secrets: [SESSION_KEY], aws: {public-port: 3000, cpu: 256, memory: 512}}",
                          "web/service.yml")},
          {"worker", service("production: {aws: {cpu: 128, memory: 256}}", "worker/service.yml")}};
}

}  // namespace

TEST(DeployNames, PrefixesFitTheLoadBalancerLimitAndStayUnique) {
  EXPECT_EQ(name_prefix("shop", "production"), "shop-production");
  std::set<std::string> seen;
  for (std::string app_slug : {"a-very-long-application-name", "a-very-long-application-name-2", "x"})
    for (std::string env : {"production", "production-eu-central", "qa"}) {
      std::string p = name_prefix(app_slug, env);
      EXPECT_LE(p.size(), 22u) << p;
      EXPECT_TRUE(seen.insert(p).second) << "collision: " << p;
      for (std::string role : {"web", "customer-dashboard", "customer-dashboards"}) {
        EnvironmentTarget e;
        e.name_prefix = p;
        ServiceTarget s;
        s.short_name = short_name(role);
        EXPECT_LE(s.short_name.size(), 9u);
        EXPECT_EQ(load_balancer_name_problem(load_balancer_name(e, s)), "") << load_balancer_name(e, s);
      }
    }
  EXPECT_NE(short_name("customer-dashboard"), short_name("customer-dashboards"));
  EXPECT_EQ(name_prefix("internal-tools", "qa").rfind("internal-", 0), std::string::npos);
}

TEST(DeployNames, SlugsAndAwsRules) {
  EXPECT_EQ(slug("Data Pipeline!"), "data-pipeline");
  EXPECT_EQ(slug("!!!"), "");
  EXPECT_EQ(load_balancer_name_problem(std::string(33, 'a')), "must have 1 to 32 characters");
  EXPECT_EQ(load_balancer_name_problem("internal-x"), "must not start with 'internal-'");
  EXPECT_EQ(load_balancer_name_problem("a_b"), "may hold only letters, digits and '-'");
  EXPECT_EQ(bucket_name_problem("ab"), "must have 3 to 63 characters");
  EXPECT_EQ(bucket_name_problem("-abc"), "must start and end with a letter or digit");
  EXPECT_EQ(bucket_name_problem("shop-production-terraform-111122223333"), "");
  EXPECT_TRUE(config::valid_secret_name("DATABASE_URL"));
  EXPECT_FALSE(config::valid_secret_name("1KEY"));
  EXPECT_FALSE(config::valid_secret_name("db-url"));
}

TEST(DeployTarget, CarriesWhatDeployNeeds) {
  auto t = deploy_target(app(kApp), services());
  EXPECT_EQ(t.app_slug, "shop");
  EXPECT_EQ(t.exocom_image, "exosphere/exocom:latest");
  ASSERT_EQ(t.services.size(), 2u);
  EXPECT_TRUE(t.services[0].is_public);
  EXPECT_EQ(t.services[0].health_check, "/");
  const auto& prod = t.environment("production");
  EXPECT_EQ(prod.urls.at("web"), "www.shop.example.com");
  EXPECT_EQ(prod.secrets_for(t.services[0]), (std::vector<std::string>{"DATABASE_URL", "SESSION_KEY"}));
  EXPECT_EQ(prod.secrets_for(t.services[1]), (std::vector<std::string>{"DATABASE_URL"}));
  EXPECT_EQ(prod.state_bucket("111122223333"), "shop-production-terraform-111122223333");
  EXPECT_EQ(prod.state_key, "exosphere/shop/production.tfstate");
  EXPECT_EQ(prod.secrets_path, "/exo/shop/production/");
  const auto& staging = t.environment("staging");
  EXPECT_EQ(staging.urls.at("web"), "staging.shop.example.com");
  EXPECT_EQ(staging.state_bucket("111122223333"), "shop-staging-state");
}

// Requests per task come from a load balancer: only public services have one.
TEST(DeployTarget, APrivateServiceCannotScaleOnRequests) {
  auto s = services();
  for (auto& [role, svc] : s)
    if (role != "web") svc.production.scale = {1, 3, 0, 0, 500};
  try {
    deploy_target(app(kApp), s);
    FAIL() << "accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("production.scale.requests-per-target: 'worker' is private, so no load balancer "
                                         "counts its requests; scale it on cpu or memory"),
              std::string::npos)
        << e.what();
  }
}

TEST(DeployTarget, TheGatewayAnswersOnExocomOfTheDomainUnlessGivenAUrl) {
  std::string yml = kApp;
  yml.replace(yml.find("services:"), 9, "dependencies:\n  - type: exocom\n    gateway: {role: browser, port: 4100}\nservices:");
  yml.replace(yml.find("urls: {web: staging.shop.example.com}"), 37, "urls: {web: staging.shop.example.com, browser: live.staging.shop.example.com}");
  auto t = deploy_target(app(yml), services());
  ASSERT_TRUE(t.gateway);
  EXPECT_EQ(t.gateway->role, "browser");
  EXPECT_EQ(t.gateway->port, 4100);
  EXPECT_EQ(t.environment("production").urls.at("browser"), "exocom.shop.example.com");
  EXPECT_EQ(t.environment("staging").urls.at("browser"), "live.staging.shop.example.com");
  auto files = terraform_files(t);
  const std::string& services_tf = files["services.tf"];
  auto at = services_tf.find("EXOCOM_GATEWAY_URL ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(services_tf.substr(services_tf.find("= ", at), 34), "= \"wss://${var.urls[\"browser\"]}/\"\n");
  EXPECT_NE(files["main.tf"].find("gateway_origins            = [\"https://${var.urls[\"web\"]}\"]"), std::string::npos);
}

TEST(ChooseEnvironment, TheNamedOneTheOnlyOneOrProduction) {
  auto a = app(kApp);
  EXPECT_EQ(config::choose_environment(a, "").name, "production");
  EXPECT_EQ(config::choose_environment(a, "staging").name, "staging");
  try {
    config::choose_environment(a, "qa");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "'qa' is not an environment in application.yml; valid environments: production, staging");
  }
  a.environments.erase(a.environments.begin());
  EXPECT_EQ(config::choose_environment(a, "").name, "staging");
  a.environments.push_back(a.environments.front());
  a.environments.back().name = "qa";
  try {
    config::choose_environment(a, "");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "application.yml has several environments; name one: staging, qa");
  }
}

TEST(TerraformFiles, AreTheSameBytesForTheSameInput) {
  auto a = terraform_files(deploy_target(app(kApp), services()));
  auto b = terraform_files(deploy_target(app(kApp), services()));
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.count("production.tfvars.json"));
  EXPECT_TRUE(a.count("staging.tfvars.json"));
  EXPECT_TRUE(a.count("modules/service/main.tf"));
}

namespace {

// kApp with `section` (indented as an environment key) added to production.
std::string with_production_exocom(const std::string& section) {
  std::string yml = kApp;
  yml.insert(yml.find("  staging:"), section);
  return yml;
}

std::string deploy_error(const std::string& yml) {
  try {
    deploy_target(app(yml), services());
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

struct BadExocom {
  const char* name;
  const char* section;
  const char* lines;  // what follows "the configuration is not ready to deploy:\n"
};

const BadExocom kBadExocom[] = {
    {"zero_nodes", "    exocom:\n      nodes: 0\n",
     "  application.yml:14: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found '0'"},
    {"ten_nodes", "    exocom:\n      nodes: 10\n",
     "  application.yml:14: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found '10'"},
    {"nodes_in_words", "    exocom:\n      nodes: three\n",
     "  application.yml:14: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found 'three'"},
    {"fractional_nodes", "    exocom: {nodes: 2.5}\n",
     "  application.yml:13: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found '2.5'"},
    {"nodes_a_list", "    exocom:\n      nodes: [1, 2]\n",
     "  application.yml:14: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found a list"},
    {"nodes_empty", "    exocom:\n      nodes:\n",
     "  application.yml:14: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found nothing"},
    {"unknown_key", "    exocom:\n      nodes: 3\n      replicas: 2\n",
     "  application.yml:15: environments.production.exocom.replicas: unknown key; under exocom write only nodes, like "
     "exocom: {nodes: 3}"},
    {"exocom_a_number", "    exocom: 3\n",
     "  application.yml:13: environments.production.exocom: must be a map like exocom: {nodes: 3}; found a text value"},
    {"every_problem_at_once", "    exocom:\n      node: 3\n      nodes: 0\n",
     "  application.yml:14: environments.production.exocom.node: unknown key; under exocom write only nodes, like "
     "exocom: {nodes: 3}\n"
     "  application.yml:15: environments.production.exocom.nodes: must be a whole number from 1 to 9, like nodes: 3; "
     "found '0'"},
};

class DeployTargetBadExocom : public ::testing::TestWithParam<BadExocom> {};

}  // namespace

TEST_P(DeployTargetBadExocom, NamesFileLineKeyAndWhatToWrite) {
  EXPECT_EQ(deploy_error(with_production_exocom(GetParam().section)),
            std::string("the configuration is not ready to deploy:\n") + GetParam().lines);
}

INSTANTIATE_TEST_SUITE_P(Cases, DeployTargetBadExocom, ::testing::ValuesIn(kBadExocom),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DeployTarget, ExocomNodesPerEnvironmentGoToTheirVarFiles) {
  auto t = deploy_target(app(with_production_exocom("    exocom:\n      nodes: 3\n")), services());
  EXPECT_EQ(t.environment("production").exocom_nodes, 3);
  EXPECT_EQ(t.environment("staging").exocom_nodes, 1);
  auto files = terraform_files(t);
  auto production = parse_json(files.at("production.tfvars.json"), "production.tfvars.json").as_object();
  auto staging = parse_json(files.at("staging.tfvars.json"), "staging.tfvars.json").as_object();
  EXPECT_EQ(production.at("exocom_nodes").as_int64(), 3);
  EXPECT_EQ(staging.at("exocom_nodes").as_int64(), 1);
  // One stack for every environment: main.tf does not change with the number of nodes.
  EXPECT_EQ(files.at("main.tf"), terraform_files(deploy_target(app(kApp), services())).at("main.tf"));
  EXPECT_NE(files.at("variables.tf").find("variable \"exocom_nodes\""), std::string::npos);
  EXPECT_TRUE(files.count("modules/nats/main.tf"));

  auto single = terraform_files(deploy_target(app(with_production_exocom("    exocom: {nodes: 1}\n")), services()));
  EXPECT_EQ(parse_json(single.at("production.tfvars.json"), "production.tfvars.json").as_object().at("exocom_nodes").as_int64(), 1);
}
