// The tutorial, as a new user types it: create an application, add a C++ service and a web server,
// set up, test, lint, run, send an HTTP request that travels through the bus, edit a service and
// watch it restart, then Ctrl-C. Everything in a temporary folder; nothing left running.
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>
#include <thread>

#include "common/ids.hpp"
#include "support/processes.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

TEST(Tutorial, FromNothingToARunningApplication) {
  Sandbox box;
  auto step = [&](const std::vector<std::string>& args, const fs::path& cwd, std::string_view input = {}) {
    auto r = run_exo(args, cwd, input);
    EXPECT_EQ(r.exit_code, 0) << "exo " << args[0] << "\n" << r.out << r.err;
    return r;
  };
  // 1. The application, through the wizard.
  step({"create", "application"}, box.path(), "todo-app\nA todo application\n\n\n");
  fs::path app = box / "todo-app";
  ASSERT_TRUE(fs::exists(app / "application.yml"));

  // 2. A C++ service and a web server.
  step({"add", "--service-role=todo", "--service-type=todo-service", "--description=stores the todo entries",
        "--author=test-author", "--template-name=exoservice-cpp", "--protection-level=private"},
       app);
  step({"add", "--service-role=html-server", "--service-type=html-server", "--description=serves HTML UI for the test app",
        "--author=test-author", "--template-name=htmlserver-cpp", "--protection-level=public"},
       app);
  // Port 3000 may be taken on a shared machine: the tutorial's one edit to service.yml.
  auto web_yml = box.read("todo-app/html-server/service.yml");
  uint16_t port;
  {
    Exocom probe("", {"--dev-open"});
    port = probe.port();
  }
  box.write("todo-app/html-server/service.yml",
            std::regex_replace(web_yml, std::regex("'3000:3000'"), "'" + std::to_string(port) + ":3000'"));

  // 3. Set up, test, lint.
  auto setup = step({"setup"}, app);
  EXPECT_NE(setup.out.find("setup complete"), std::string::npos);
  auto test = step({"test"}, app);
  EXPECT_NE(test.out.find("todo works"), std::string::npos) << test.out;
  EXPECT_NE(test.out.find("html-server works"), std::string::npos) << test.out;
  EXPECT_NE(test.out.find("All tests passed"), std::string::npos);
  auto lint = step({"lint"}, app);
  EXPECT_NE(lint.out.find("Lint passed"), std::string::npos);

  // 4. Run it; a page travels through the bus.
  std::string token = random_hex(8);
  auto exo = start_exo({"run"}, app, {{"TUTORIAL_TOKEN", token}});
  ASSERT_NE(exo->output().wait_for("all services online", 60s), std::string::npos) << exo->output().text();
  EXPECT_NE(exo->output().wait_for("'html-server' serves http://localhost:" + std::to_string(port)), std::string::npos);
  auto [status, page] = http_get(port, "/ping");
  EXPECT_EQ(status, 200);
  EXPECT_NE(page.find("The bus answered <strong>pong</strong> from todo"), std::string::npos) << page;
  EXPECT_NE(exo->output().wait_for("html-server  --[ ping ]->  todo"), std::string::npos);

  // 5. Edit the web server: it is rebuilt and restarted, and the page shows the change.
  size_t mark = exo->output().text().size();
  auto web = box.read("todo-app/html-server/src/web.cpp");
  box.write("todo-app/html-server/src/web.cpp", std::regex_replace(web, std::regex("The bus answered"), "ExoCom answered"));
  ASSERT_NE(exo->output().wait_for("'html-server' restarted successfully", 60s, mark), std::string::npos)
      << exo->output().text();
  EXPECT_NE(exo->output().text().find("Restarting service 'html-server' because " +
                                          (app / "html-server/src/web.cpp").string() + " was changed", mark),
            std::string::npos)
      << exo->output().text().substr(mark);
  EXPECT_NE(exo->output().text().find("html-server  [", mark), std::string::npos) << "the build did not run";
  std::tie(status, page) = http_get(port, "/ping");
  EXPECT_EQ(status, 200);
  EXPECT_NE(page.find("ExoCom answered <strong>pong</strong> from todo"), std::string::npos) << page;

  // 6. Ctrl-C.
  exo->signal(SIGINT);
  auto code = exo->wait_exit(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_NE(exo->output().text().find("shutting down ..."), std::string::npos);
  for (int i = 0; i < 100 && !processes_with(token).empty(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(processes_with(token).empty()) << "processes left behind";
}
