// Every malformed configuration gives one line naming file, line, key and what was expected.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/application.hpp"
#include "config/service.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::config;
using exo::test::dedent;

namespace {

struct BadInput {
  const char* name;
  const char* file;  // "app" or "service"
  const char* yaml;
  const char* error;  // the exact message, or its start when it ends with "..."
};

std::string error_of(const BadInput& in) {
  Warnings w;
  try {
    if (std::string_view(in.file) == "app")
      parse_application(dedent(in.yaml), "application.yml", "/app", w);
    else
      parse_service(dedent(in.yaml), "web/service.yml", "/app/web", w);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const BadInput kBadInputs[] = {
    {"unclosed_bracket", "app", "name: foo\nservices: {public: [\n", "application.yml:3: invalid YAML: end of sequence flow not found"},
    {"tab_indentation", "app", "name: foo\nservices:\n\tpublic:\n", "application.yml:3: invalid YAML: ..."},
    {"top_level_list", "app", "- name: foo\n", "application.yml:1: expected a map of keys (name, version, services, ...), found a list"},
    {"empty_file", "app", "", "application.yml:1: is empty; it needs at least 'name' and 'services'"},
    {"missing_name", "app", "services:\n  public:\n", "application.yml:1: name: is required but missing"},
    {"name_is_a_list", "app", "name: [a, b]\nservices: {}\n", "application.yml:1: name: expected a text value, found a list"},
    {"missing_services", "app", "name: foo\n", "application.yml:1: needs a 'services' key with 'public' and/or 'private' roles"},
    {"services_is_a_list", "app", "name: foo\nservices:\n  - web\n", "application.yml:2: services: expected a map of keys, found a list"},
    {"unknown_protection_level", "app", "name: foo\nservices:\n  internal:\n    web: {location: ./web}\n",
     "application.yml:3: services.internal: unknown protection level; use 'public' or 'private'"},
    {"role_without_location", "app", "name: foo\nservices:\n  public:\n    web:\n      namespace: x\n",
     "application.yml:4: services.public.web: needs 'location' or 'docker-image'"},
    {"role_with_null_value", "app", "name: foo\nservices:\n  public:\n    web:\n",
     "application.yml:4: services.public.web: needs 'location' or 'docker-image'"},
    {"role_with_both", "app", "name: foo\nservices:\n  public:\n    web: {location: ./w, docker-image: x/y}\n",
     "application.yml:4: services.public.web: has both 'location' and 'docker-image'; keep one"},
    {"role_is_text", "app", "name: foo\nservices:\n  public:\n    web: ./web\n",
     "application.yml:4: services.public.web: expected a map with 'location' or 'docker-image', found a text value"},
    {"duplicate_role_across_levels", "app",
     "name: foo\nservices:\n  public:\n    web: {location: ./a}\n  private:\n    web: {location: ./b}\n",
     "application.yml:6: services.private.web: role 'web' is defined twice; each role may appear once"},
    {"duplicate_key", "app", "name: foo\nservices:\n  public:\n    web: {location: ./a}\n    web: {location: ./b}\n",
     "application.yml:5: services.public.web: duplicate key; each key may appear once"},
    {"invalid_role_name", "app", "name: foo\nservices:\n  public:\n    web server: {location: ./a}\n",
     "application.yml:4: services.public.web server: is not a valid role name; use letters, digits, '-' and '_', starting with a letter or digit"},
    {"unknown_dependency", "app", "name: foo\ndependencies:\n  - type: redis\nservices: {}\n",
     "application.yml:3: dependencies[0].type: unsupported dependency 'redis'; supported are 'exocom' and 'nats'"},
    {"dependencies_not_a_list", "app", "name: foo\ndependencies:\n  exocom: 1\nservices: {}\n",
     "application.yml:2: dependencies: expected a list, found a map"},
    {"dependency_twice", "app", "name: foo\ndependencies:\n  - type: exocom\n  - type: exocom\nservices: {}\n",
     "application.yml:4: dependencies[1].type: dependency 'exocom' is listed twice"},
    {"translation_without_internal", "app",
     "name: foo\nservices:\n  private:\n    tweets:\n      location: ./t\n      message-translation:\n        - public: tweets.create\n",
     "application.yml:7: services.private.tweets.message-translation[0].internal: is required but missing"},
    {"translation_is_text", "app",
     "name: foo\nservices:\n  private:\n    tweets:\n      location: ./t\n      message-translation:\n        - tweets.create\n",
     "application.yml:7: services.private.tweets.message-translation[0]: expected {public: <name>, internal: <name>}, found a text value"},
    {"depends_on_unknown_role", "app", "name: foo\nservices:\n  public:\n    web: {location: ./w, depends-on: [db]}\n",
     "application.yml:4: services.public.web: depends on 'db', which is not a role of this application"},
    {"alert_email_not_an_address", "app", "name: foo\nservices: {}\nenvironments:\n  production:\n    alerts: {email: ops at example.com}\n",
     "application.yml:5: environments.production.alerts.email: 'ops at example.com' is not an email address"},
    {"environments_is_a_list", "app", "name: foo\nservices: {}\nenvironments:\n  - production\n",
     "application.yml:3: environments: expected a map of keys, found a list"},
    {"service_invalid_yaml", "service", "type: web\nmessages: [\n", "web/service.yml:3: invalid YAML: ..."},
    {"service_top_level_text", "service", "just text\n",
     "web/service.yml:1: expected a map of keys (type, startup, messages, ...), found a text value"},
    {"sends_is_a_map", "service", "messages:\n  sends:\n    ping: pong\n",
     "web/service.yml:2: messages.sends: expected a list, found a map"},
    {"receives_has_a_list_item", "service", "messages:\n  receives:\n    - [a, b]\n",
     "web/service.yml:3: messages.receives[0]: expected a text value, found a list"},
    {"startup_is_a_list", "service", "startup:\n  - node server.js\n",
     "web/service.yml:1: startup: expected a map of keys, found a list"},
    {"timeout_not_a_number", "service", "startup:\n  timeout: soon\n",
     "web/service.yml:2: startup.timeout: expected a whole number, found 'soon'"},
    {"port_out_of_range", "service", "port: 70000\n", "web/service.yml:1: port: must be a port number between 1 and 65535"},
    {"restart_policy_unknown", "service", "restart: always\n",
     "web/service.yml:1: restart: expected 'on-failure' or 'no', found 'always'"},
    {"health_check_not_a_path", "service", "startup:\n  health-check:\n    http: status\n",
     "web/service.yml:3: startup.health-check.http: must be a path starting with '/', like /status"},
    {"memory_not_a_number", "service", "production:\n  aws:\n    memory: lots\n",
     "web/service.yml:3: production.aws.memory: expected a whole number, found 'lots'"},
    {"scale_max_below_min", "service", "production:\n  scale:\n    min: 3\n    max: 2\n    cpu: 50\n",
     "web/service.yml:4: production.scale.max: must be at least min (3)"},
    {"scale_on_nothing", "service", "production:\n  scale:\n    min: 1\n    max: 4\n",
     "web/service.yml:2: production.scale: scales from 1 to 4 tasks on nothing; give cpu, memory or requests-per-target"},
    {"scale_cpu_out_of_range", "service", "production:\n  scale: {max: 4, cpu: 150}\n",
     "web/service.yml:2: production.scale.cpu: must be from 1 to 100 percent (the average CPU use to keep)"},
};

class BadConfig : public ::testing::TestWithParam<BadInput> {};

}  // namespace

TEST_P(BadConfig, GivesOneActionableLine) {
  const auto& in = GetParam();
  std::string expected = in.error;
  std::string actual = error_of(in);
  if (expected.ends_with("...")) {
    EXPECT_EQ(actual.substr(0, expected.size() - 3), expected.substr(0, expected.size() - 3));
  } else {
    EXPECT_EQ(actual, expected);
  }
  EXPECT_EQ(actual.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Config, BadConfig, ::testing::ValuesIn(kBadInputs),
                         [](const auto& info) { return std::string(info.param.name); });

// What the YAML parser complains about is quoted into the error, whose line it must not break
// (found by fuzz/config_files: an escape of a line break inside a double-quoted string).
TEST(BadInputOneLine, ParserMessagesStayOnOneLine) {
  Warnings w;
  for (std::string yaml : {std::string("broken: \"\\\n\"\nnext: \"\\\x01\"\n"),
                           std::string("name: app\nenvironment]\x7f\0\n  production: {}\n", 42)}) {
    try {
      parse_service(yaml, "web/service.yml", "/app/web", w);
      FAIL() << "parsed: " << yaml;
    } catch (const ConfigError& e) {
      std::string what = e.what();
      EXPECT_TRUE(std::none_of(what.begin(), what.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
          << what;
      EXPECT_EQ(what.rfind("web/service.yml:", 0), 0u) << what;
    }
  }
}
