// exo generate docker-compose, and what exo run --docker says when it cannot run.
#include <gtest/gtest.h>

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {
void app(Sandbox& box) {
  box.write("application.yml", R"(
    name: Space Tweet
    dependencies:
      - type: exocom
        version: 0.3.0
    services:
      public:
        web:
          location: ./web
      private:
        tweets:
          location: ./mongo
          message-translation:
            - {public: tweets.create, internal: mongo.create}
        search:
          docker-image: acme/search:1.2
  )");
  box.write("web/service.yml", R"(
    startup:
      command: ./build/web
    messages:
      sends: [tweets.create]
    docker:
      ports: ['3000:3000']
  )");
  box.write("mongo/service.yml", R"(
    startup:
      command: node server.js
    messages:
      receives: [mongo.create]
    dependencies:
      mongo:
        dev:
          image: mongo
          version: 3.4.0
          volumes: ['{{EXO_DATA_PATH}}:/data/db']
          ports: ['27017:27017']
  )");
}
}  // namespace

TEST(ExoGenerate, DockerComposeFile) {
  Sandbox box;
  app(box);
  auto r = run_exo({"generate", "docker-compose"}, box.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote docker-compose.yml\n");
  auto text = box.read("docker-compose.yml");
  YAML::Node doc = YAML::Load(text);
  EXPECT_EQ(doc["name"].as<std::string>(), "space-tweet");
  auto services = doc["services"];
  EXPECT_EQ(services["exocom"]["image"].as<std::string>(), "exosphere/exocom:0.3.0");
  EXPECT_NE(services["exocom"]["environment"]["SERVICE_DATA"].as<std::string>().find("\"internal\":\"mongo.create\""),
            std::string::npos);
  EXPECT_EQ(services["web"]["build"]["context"].as<std::string>(), "./web");
  EXPECT_EQ(services["web"]["environment"]["ROLE"].as<std::string>(), "web");
  EXPECT_EQ(services["web"]["environment"]["EXOCOM_HOST"].as<std::string>(), "exocom");
  EXPECT_EQ(services["web"]["environment"]["WEB_INTERNAL_ORIGIN"].as<std::string>(), "http://web:3000");
  EXPECT_EQ(services["web"]["ports"][0].as<std::string>(), "3000:3000");
  EXPECT_EQ(services["tweets"]["environment"]["MONGO"].as<std::string>(), "mongo");
  EXPECT_EQ(services["tweets"]["depends_on"][1].as<std::string>(), "mongo");
  // Image services get the same environment as the others (the original gave them none).
  EXPECT_EQ(services["search"]["image"].as<std::string>(), "acme/search:1.2");
  EXPECT_EQ(services["search"]["environment"]["EXOCOM_PORT"].as<std::string>(), "80");
  EXPECT_EQ(services["mongo"]["image"].as<std::string>(), "mongo:3.4.0");
  EXPECT_EQ(services["mongo"]["volumes"][0].as<std::string>(), "mongo-data:/data/db");
  EXPECT_TRUE(doc["volumes"]["mongo-data"].IsDefined());
  // Same input, same bytes.
  ASSERT_EQ(run_exo({"generate", "docker-compose"}, box.path()).exit_code, 0);
  EXPECT_EQ(box.read("docker-compose.yml"), text);
}

// Values reach the containers exactly as written in service.yml: a dollar is not interpolated by
// Compose, and text that YAML would read as a number, a float or a boolean stays text.
TEST(ExoGenerate, DockerComposeKeepsValuesAsWritten) {
  Sandbox box;
  app(box);
  box.write("web/service.yml", R"(
    startup:
      command: ./build/web --greeting '$HOME'
    environment:
      PRICE: $5 or $$5
      MASK: '0x1F'
      LIMIT: '.inf'
      SWITCH: 'on'
      OCTAL: '012'
      SPACES: ' padded '
      QUOTES: 'say "hi" \ bye'
    messages:
      sends: [tweets.create]
  )");
  ASSERT_EQ(run_exo({"generate", "docker-compose"}, box.path()).exit_code, 0);
  YAML::Node env = YAML::Load(box.read("docker-compose.yml"))["services"]["web"]["environment"];
  EXPECT_EQ(env["PRICE"].as<std::string>(), "$$5 or $$$$5");  // Compose turns $$ back into $
  EXPECT_EQ(env["MASK"].as<std::string>(), "0x1F");
  EXPECT_EQ(env["LIMIT"].as<std::string>(), ".inf");
  EXPECT_EQ(env["SWITCH"].as<std::string>(), "on");
  EXPECT_EQ(env["OCTAL"].as<std::string>(), "012");
  EXPECT_EQ(env["SPACES"].as<std::string>(), " padded ");
  EXPECT_EQ(env["QUOTES"].as<std::string>(), "say \"hi\" \\ bye");
  // A YAML 1.1 reader (Compose v1 uses PyYAML) must not see a number or a boolean either: every
  // value is quoted.
  std::string text = box.read("docker-compose.yml");
  EXPECT_NE(text.find("MASK: \"0x1F\""), std::string::npos) << text;
  EXPECT_NE(text.find("SWITCH: \"on\""), std::string::npos) << text;
  EXPECT_FALSE(YAML::Load(text)["services"]["web"]["command"]) << "the image's CMD starts it, not the local command";
}

TEST(ExoGenerate, CheckSaysWhetherTheFileIsCurrent) {
  Sandbox box;
  app(box);
  auto missing = run_exo({"generate", "docker-compose", "--check"}, box.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "docker-compose.yml is missing; run 'exo generate docker-compose'\n");
  ASSERT_EQ(run_exo({"g", "d"}, box.path()).exit_code, 0);
  EXPECT_EQ(run_exo({"generate", "docker-compose", "--check"}, box.path()).exit_code, 0);
  box.write("web/service.yml", "startup:\n  command: ./build/web2\n");
  auto stale = run_exo({"generate", "docker-compose", "--check"}, box.path());
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_EQ(stale.err, "docker-compose.yml is out of date; run 'exo generate docker-compose'\n");
}

TEST(ExoGenerate, UnknownKind) {
  Sandbox box;
  auto r = run_exo({"generate", "zonk"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot generate 'zonk'; choose docker-compose or terraform"), std::string::npos);
}

// exo run --docker itself runs SpaceTweet in real containers (tests/js/spacetweet.test.mjs); here,
// what it says when the engine is missing or a build fails, with a recording stand-in.
namespace {
void small_app(Sandbox& box) {
  box.write("application.yml", "name: Space Tweet\ndependencies:\n  - type: exocom\n    version: 0.1.0\n"
                               "services:\n  public:\n    web:\n      location: ./web\n");
  box.write("web/service.yml", "startup:\n  command: ./build/web\n  online-text: online\nmessages:\n  sends: [ping]\n");
  box.write("web/Dockerfile", "FROM exosphere/sdk:0.1.0\nRUN make\n");
}
}  // namespace

TEST(ExoRunDocker, WithoutAnEngine) {
  Sandbox box;
  small_app(box);
  fs::create_directories(box / "empty");
  auto r = run_exo({"run", "--docker"}, box.path(), {}, {{"PATH", (box / "empty").string()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: neither Docker nor Podman is installed; install one of them (scripts/install-deps sets up Podman)\n");
}

TEST(ExoRunDocker, DockerWithoutItsDaemon) {
  Sandbox box;
  small_app(box);
  StandIn docker(box, "docker");
  docker.on("info", 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n");
  auto r = run_exo({"run", "--docker"}, box.path(), {}, {{"PATH", docker.path_dir()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the docker CLI is here but no Docker daemon answers"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ExoRunDocker, AServiceImageThatDoesNotBuild) {
  Sandbox box;
  small_app(box);
  StandIn docker(box, "docker");
  docker.on("build", 1, "STEP 2/2: RUN make\nmake: *** No targets specified and no makefile found.  Stop.\n");
  docker.on("build --build-arg VERSION=", 0);  // the base images (docker/build-images) build
  auto r = run_exo({"run", "--docker"}, box.path(), {}, {{"PATH", StandIn::path_with(docker.path_dir())}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("make: *** No targets specified"), std::string::npos) << "what the engine said is shown: " << r.out;
  EXPECT_NE(r.err.find("the image of 'web' did not build from web/Dockerfile"), std::string::npos) << r.err;
  auto calls = docker.calls();
  auto service = std::find(calls.begin(), calls.end(),
                           "build " + host_ca_build_flag() + "-t exo-run/space-tweet-web:latest " + (box / "web").string());
  EXPECT_NE(service, calls.end());
  // From a source tree the base images are built first, every time, so they hold its SDK and ExoCom.
  auto sdk = std::find_if(calls.begin(), calls.end(), [](const std::string& c) {
    return c.starts_with("build --build-arg VERSION=") && c.find("-f docker/sdk.Dockerfile -t exosphere/sdk:") != std::string::npos;
  });
  EXPECT_LT(sdk, service) << "the SDK image is built before the service images";
  for (const auto& c : calls) EXPECT_NE(c.rfind("run ", 0), 0u) << "nothing runs after a failed build: " << c;
}

TEST(ExoRunDocker, NotWithBusNodes) {
  Sandbox box;
  small_app(box);
  auto r = run_exo({"run", "--docker", "--bus-nodes", "3"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: --bus-nodes and --docker do not go together yet; run the cluster with local processes\n");
}
