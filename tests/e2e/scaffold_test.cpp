// exo create and exo add, as a user types them: flags, answers to the questions, and mistakes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {
const char* kCreated = R"(name: foo
description: A test application
version: 0.1

dependencies:
  - type: exocom
    version: latest

services:
  public:
  private:
)";
}  // namespace

TEST(ExoCreate, ApplicationFromArguments) {
  Sandbox box;
  auto r = run_exo({"create", "application", "foo", "0.1", "latest", "A", "test", "application"}, box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("We are about to create a new Exosphere application"), std::string::npos);
  EXPECT_NE(r.out.find("File generated: foo/application.yml"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ndone\n"), std::string::npos);
  EXPECT_EQ(box.read("foo/application.yml"), kCreated);
}

TEST(ExoCreate, ApplicationFromTheWizard) {
  Sandbox box;
  auto r = run_exo({"cr", "a"}, box.path(), "foo\nA test application\n0.1\nlatest\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Name of the application to create:"), std::string::npos);
  EXPECT_NE(r.out.find("Description:"), std::string::npos);
  EXPECT_NE(r.out.find("Initial version: (0.0.1)"), std::string::npos) << r.out;
  EXPECT_EQ(box.read("foo/application.yml"), kCreated);
}

TEST(ExoCreate, ApplicationWithDefaults) {
  Sandbox box;
  auto r = run_exo({"create", "application", "my app"}, box.path(), "\n\n\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto yml = box.read("my app/application.yml");
  EXPECT_NE(yml.find("name: my app\n"), std::string::npos);
  EXPECT_NE(yml.find("version: 0.0.1\n"), std::string::npos);
}

TEST(ExoCreate, MissingOrUnknownEntity) {
  Sandbox box;
  auto missing = run_exo({"create"}, box.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("Error: missing entity for 'create' command"), std::string::npos);
  auto unknown = run_exo({"create", "zonk"}, box.path());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("Error: cannot create 'zonk'"), std::string::npos);
}

TEST(ExoCreate, ApplicationFolderExists) {
  Sandbox box;
  box.write("foo/keep.txt", "mine");
  auto r = run_exo({"create", "application", "foo", "0.1", "latest", "x"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("foo already exists"), std::string::npos) << r.err;
  EXPECT_EQ(box.read("foo/keep.txt"), "mine\n");
}

TEST(ExoCreate, ApplicationWithoutAnswers) {
  Sandbox box;
  auto r = run_exo({"create", "application"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no answer to 'Name of the application to create:'"), std::string::npos) << r.err;
}

namespace {
void make_app(Sandbox& box) {
  box.write("application.yml", R"(
    name: test app
    # the services
    services:
      public:
        zeta:
          location: ./zeta
      private:
  )");
  box.write("zeta/service.yml", "type: zeta\n");
}
}  // namespace

TEST(ExoAdd, FromFlags) {
  Sandbox box;
  make_app(box);
  auto r = run_exo({"add", "service", "--service-role=users", "--service-type=users-service", "--description=keeps users",
                    "--author=test-author", "--template-name=exoservice-cpp", "--protection-level=public"},
                   box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("We are about to add a new Exosphere service to the application!"), std::string::npos);
  EXPECT_NE(r.out.find("File generated: users-service/service.yml"), std::string::npos) << r.out;
  EXPECT_EQ(box.read("application.yml"), dedent(R"(
    name: test app
    # the services
    services:
      public:
        users:
          location: ./users-service
        zeta:
          location: ./zeta
      private:
  )"));
  auto yml = box.read("users-service/service.yml");
  EXPECT_NE(yml.find("type: users-service\n"), std::string::npos);
  EXPECT_NE(yml.find("description: keeps users\n"), std::string::npos);
  EXPECT_NE(yml.find("author: test-author\n"), std::string::npos);
  EXPECT_NE(yml.find("command: ./build/users-service\n"), std::string::npos);
  EXPECT_TRUE(fs::exists(box / "users-service/.gitignore"));
  EXPECT_NE(box.read("users-service/README.md").find("# USERS-SERVICE service"), std::string::npos);
}

TEST(ExoAdd, FromTheWizard) {
  Sandbox box;
  make_app(box);
  auto r = run_exo({"a"}, box.path(), "web\nhtml-server\nserves HTML\nme\nhtmlserver-cpp\nprivate\n");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  for (auto q : {"Role of the service to create:", "Type of the service to create:", "Description:", "Author:",
                 "Template:", "Protection level:"})
    EXPECT_NE(r.out.find(q), std::string::npos) << q;
  EXPECT_NE(box.read("application.yml").find("  private:\n    web:\n      location: ./html-server\n"), std::string::npos)
      << box.read("application.yml");
}

TEST(ExoAdd, ChoicesByNumberAndEnter) {
  Sandbox box;
  make_app(box);
  // Enter takes the first template and the first protection level.
  auto r = run_exo({"add", "--service-role=a", "--service-type=a", "--description=x", "--author=y"}, box.path(), "\n\n");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(box.read("application.yml").find("  public:\n    a:\n"), std::string::npos);
}

TEST(ExoAdd, DuplicateRole) {
  Sandbox box;
  make_app(box);
  auto r = run_exo({"add", "--service-role=zeta", "--service-type=z2", "--description=x", "--author=y",
                    "--template-name=exoservice-cpp", "--protection-level=public"},
                   box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Service zeta already exists in this application"), std::string::npos);
  EXPECT_FALSE(fs::exists(box / "z2"));
}

TEST(ExoAdd, OutsideAnApplication) {
  Sandbox box;
  auto r = run_exo({"add"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("application.yml not found. Please run this command in the root directory of an Exosphere "
                       "application."),
            std::string::npos);
}

TEST(ExoAdd, TemplateThatDoesNotExist) {
  Sandbox box;
  make_app(box);
  auto r = run_exo({"add", "--service-role=a", "--service-type=a", "--description=x", "--author=y",
                    "--template-name=zonk", "--protection-level=public"},
                   box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("there is no template 'zonk'; choose one of: "), std::string::npos) << r.err;
}

TEST(ExoAdd, BadRoleAndLevel) {
  Sandbox box;
  make_app(box);
  auto role = run_exo({"add", "--service-role=my role"}, box.path());
  EXPECT_EQ(role.exit_code, 1);
  EXPECT_NE(role.err.find("'my role' is not a valid role"), std::string::npos);
  auto level = run_exo({"add", "--service-role=a", "--service-type=a", "--description=x", "--author=y",
                        "--template-name=exoservice-cpp", "--protection-level=secret"},
                       box.path());
  EXPECT_EQ(level.exit_code, 1);
  EXPECT_NE(level.err.find("--protection-level must be public or private, not 'secret'"), std::string::npos);
}

TEST(ExoAdd, CustomTemplatesOfTheApplication) {
  Sandbox box;
  make_app(box);
  box.write(".exosphere/templates/add-service/my-go/service.yml", "type: {{serviceType}}\nauthor: {{author}}\n");
  box.write(".exosphere/templates/add-service/my-go/{{serviceRole}}.go", "package {{serviceRole}}\n");
  box.write(".exosphere/templates/add-service/my-go/bin/run", "#!/bin/sh\necho {{serviceRole}}\n");
  chmod((box / ".exosphere/templates/add-service/my-go/bin/run").c_str(), 0755);
  auto r = run_exo({"add", "--service-role=cart", "--service-type=cart-svc", "--description=x", "--author=me",
                    "--template-name=my-go", "--protection-level=private"},
                   box.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(box.read("cart-svc/service.yml"), "type: cart-svc\nauthor: me\n");
  EXPECT_EQ(box.read("cart-svc/cart.go"), "package cart\n");
  struct stat st{};
  ASSERT_EQ(stat((box / "cart-svc/bin/run").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR) << "executable bit lost";
}

TEST(ExoCreate, StandAloneServiceNextToTheApplication) {
  Sandbox box;
  box.write("app/application.yml", "name: app\nservices:\n  public:\n  private:\n");
  auto r = run_exo({"create", "service", "--service-role=users", "--service-type=users-service", "--description=x",
                    "--author=y", "--template-name=exoservice-cpp", "--protection-level=private"},
                   box / "app");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(box / "users-service/service.yml"));
  EXPECT_NE(box.read("app/application.yml").find("    users:\n      location: ../users-service\n"), std::string::npos);
}
