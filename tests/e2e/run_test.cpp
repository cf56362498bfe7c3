// `exo run` as a user runs it, on small applications whose services are shell commands. Every
// scenario ends by checking that no process it started is left.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "common/ids.hpp"
#include "support/processes.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {

// An application in a temp folder; every process it starts carries a token in its environment.
struct App {
  Sandbox box;
  std::string token = "EXO_TEST_TOKEN=" + random_hex(8);
  App() {
    box.write("application.yml", R"(
      name: demo
      services:
        public:
          web:
            location: ./web
        private:
          users:
            location: ./users
    )");
    service("web", "echo \"web on $PORT\"; echo web ready; exec sleep 600", "web ready");
    service("users", "echo users ready; exec sleep 600", "users ready");
  }
  void service(const std::string& role, const std::string& command, const std::string& online_text,
               const std::string& extra = "") {
    box.write(role + "/service.yml", "startup:\n  command: '" + command + "'\n  online-text: " + online_text + "\n" + extra);
  }
  std::unique_ptr<Watched> run(std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"run"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto eq = token.find('=');
    return start_exo(argv, box.path(), {{token.substr(0, eq), token.substr(eq + 1)}});
  }
  ~App() {
    // Nothing may outlive exo run.
    for (int i = 0; i < 100 && !processes_with(token).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(processes_with(token).empty()) << "processes left behind";
    for (int pid : processes_with(token)) ::kill(pid, SIGKILL);
  }
};

void ctrl_c(Watched& exo) {
  exo.signal(SIGINT);
  auto code = exo.wait_exit(15s);
  ASSERT_TRUE(code.has_value()) << "exo run did not stop";
  EXPECT_EQ(*code, 0) << exo.output().text();
}

}  // namespace

TEST(ExoRun, StartsEverythingAndStopsOnCtrlC) {
  App app;
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_NE(out.find("Running demo"), std::string::npos);
  EXPECT_NE(out.find("ExoCom is running at port"), std::string::npos);
  EXPECT_NE(out.find("       web  'web' is running"), std::string::npos) << out;
  EXPECT_NE(out.find("     users  'users' is running"), std::string::npos) << out;
  EXPECT_NE(out.find("       web  web on "), std::string::npos);
  ctrl_c(*exo);
  EXPECT_NE(exo->output().text().find("exo-run  shutting down ..."), std::string::npos);
}

// The dashboard: on by default, its address printed once everything is online; off on request;
// a port in use named.
TEST(ExoRun, PrintsTheDashboardOrNotAndRefusesATakenPort) {
  {
    App app;
    auto exo = app.run();
    ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
    ASSERT_NE(exo->output().wait_for("exo-run  dashboard at http://localhost:", 5s), std::string::npos) << exo->output().text();
    std::string out = exo->output().text();
    size_t at = out.find("dashboard at http://localhost:") + 30;
    uint16_t port = static_cast<uint16_t>(std::stoi(out.substr(at)));
    EXPECT_EQ(http_get(port, "/").first, 403) << "a Host other than localhost is refused";
    ctrl_c(*exo);
  }
  {
    App app;
    auto exo = app.run({"--no-dashboard"});
    ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
    ctrl_c(*exo);
    EXPECT_EQ(exo->output().text().find("dashboard"), std::string::npos);
  }
  App app;
  Exocom taken("", {"--dev-open"});
  auto r = run_exo({"run", "--dashboard-port", std::to_string(taken.port())}, app.box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: --dashboard-port " + std::to_string(taken.port()) +
                       ": the port is in use; pick another one or leave it out\n");
  r = run_exo({"run", "--dashboard-port", "7601", "--no-dashboard"}, app.box.path());
  EXPECT_EQ(r.err, "Error: --dashboard-port and --no-dashboard exclude each other\n");
}

// A closed terminal (SIGHUP) or a reader of the log stream that went away (SIGPIPE) stops
// everything as Ctrl-C does, instead of killing exo and leaving its children behind.
TEST(ExoRun, HangupOrABrokenPipeStopsEverythingCleanly) {
  for (int sig : {SIGHUP, SIGPIPE}) {
    App app;
    auto exo = app.run();
    ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
    exo->signal(sig);
    auto code = exo->wait_exit(15s);
    ASSERT_TRUE(code.has_value()) << "exo run did not stop on signal " << sig;
    EXPECT_EQ(*code, 0) << exo->output().text();
    EXPECT_NE(exo->output().text().find("shutting down ..."), std::string::npos) << sig;
  }
}

TEST(ExoRun, SigtermStopsEverythingToo) {
  App app;
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos);
  exo->signal(SIGTERM);
  auto code = exo->wait_exit(15s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

TEST(ExoRun, GivesEachServiceItsEnvironment) {
  App app;
  app.service("web", "echo \"ROLE=$ROLE HOST=$EXOCOM_HOST PORT=$PORT USERS=$USERS_INTERNAL_ORIGIN\"; echo ok web; exec sleep 600", "ok web");
  app.box.write("users/service.yml", "port: 4711\nstartup:\n  command: echo ok users; exec sleep 600\n  online-text: ok users\n");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_NE(out.find("ROLE=web HOST=127.0.0.1 PORT="), std::string::npos) << out;
  EXPECT_NE(out.find("USERS=http://127.0.0.1:4711"), std::string::npos) << out;
  ctrl_c(*exo);
}

TEST(ExoRun, DependantsStartAfterWhatTheyDependOn) {
  App app;
  app.box.write("application.yml", R"(
    name: demo
    services:
      public:
        web:
          location: ./web
          depends-on: [users]
      private:
        users:
          location: ./users
  )");
  app.service("users", "sleep 1; echo users ready; exec sleep 600", "users ready");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_LT(out.find("'users' is running"), out.find("web on ")) << out;
  ctrl_c(*exo);
}

TEST(ExoRun, HealthChecksInsteadOfOnlineText) {
  App app;
  app.box.write("web/service.yml", R"yaml(
    startup:
      command: node -e "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)"
      health-check:
        http: /status
  )yaml");
  app.box.write("users/service.yml", R"yaml(
    startup:
      command: node -e "require('net').createServer(() => {}).listen(process.env.PORT)"
      health-check:
        tcp: true
  )yaml");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  ctrl_c(*exo);
}

TEST(ExoRun, AServiceThatNeverBecomesReady) {
  App app;
  app.box.write("users/service.yml", "startup:\n  command: exec sleep 600\n  online-text: never printed\n  timeout: 1\n");
  auto exo = app.run();
  auto code = exo->wait_exit(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(exo->output().text().find("'users' did not become ready within 1s: it never printed \"never printed\""),
            std::string::npos)
      << exo->output().text();
}

TEST(ExoRun, ACommandThatDoesNotExist) {
  App app;
  app.service("users", "no-such-command-anywhere --flag", "ready");
  auto exo = app.run();
  auto code = exo->wait_exit(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  std::string out = exo->output().text();
  EXPECT_NE(out.find("users exited with code 127"), std::string::npos) << out;
  EXPECT_NE(out.find("'users' could not start: its command was not found (no-such-command-anywhere --flag); fix "
                     "startup.command in users/service.yml"),
            std::string::npos)
      << out;
}

TEST(ExoRun, ACrashIsReportedAndTheRestKeepsRunning) {
  App app;
  app.service("users", "echo users ready; sleep 0.5; echo Bang!; exit 3", "users ready");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("users exited with code 3", 20s), std::string::npos) << exo->output().text();
  EXPECT_NE(exo->output().text().find("     users  Bang!"), std::string::npos);
  // Still running: Ctrl-C ends it normally (a run stopped by the crash would have ended with 1).
  ctrl_c(*exo);
  EXPECT_NE(exo->output().text().find("exo-run  shutting down ..."), std::string::npos) << exo->output().text();
}

// A health check that hangs (a server that accepts and never answers) does not hold up the rest of
// exo run: another service's output keeps flowing while the check waits for its answer.
TEST(ExoRun, AHangingHealthCheckDoesNotStallTheLogStream) {
  App app;
  app.box.write("web/service.yml", R"(
    startup:
      command: perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 50, ReuseAddr => 1) or die; $| = 1; print "listening\n"; push @held, $s->accept while 1'
      health-check:
        http: /health
  )");
  app.service("users", "while true; do echo tick; sleep 0.1; done", "tick");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("listening", 20s), std::string::npos) << exo->output().text();
  ASSERT_NE(exo->output().wait_for("tick", 20s), std::string::npos) << exo->output().text();
  // Each check now waits a second for an answer that never comes; ticks arrive every 100 ms.
  auto longest = std::chrono::milliseconds(0);
  size_t ticks = exo->output().count("tick");
  auto last = std::chrono::steady_clock::now();
  for (auto end = last + 3s; std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(10ms);
    size_t now_ticks = exo->output().count("tick");
    auto now = std::chrono::steady_clock::now();
    if (now_ticks != ticks) {
      longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(now - last));
      ticks = now_ticks;
      last = now;
    }
  }
  EXPECT_LT(longest, 700ms) << "the log stream stalled while a health check waited";
  ctrl_c(*exo);
}

namespace {
// The ExoCom that `app`'s exo run started (its pid), or 0.
// The exocom process of the run (`node`: the one of that node of a cluster).
int exocom_of(App& app, const std::string& node = {}) {
  for (int pid : processes_with(app.token)) {
    auto cmdline = exo::try_read_file("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
    if (cmdline.find("/exocom") == std::string::npos) continue;
    if (node.empty() || cmdline.find(std::string("--node-name") + '\0' + node + '\0') != std::string::npos) return pid;
  }
  return 0;
}
}  // namespace

// kill -9 of the bus: exo run starts a new one on the same port, the services reconnect by
// themselves, and the log says what was lost.
TEST(ExoRun, ExoComKilledIsRestartedOnTheSamePort) {
  App app;
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  std::smatch m;
  std::string text = exo->output().text();
  ASSERT_TRUE(std::regex_search(text, m, std::regex("ExoCom is running at port (\\d+)")));
  std::string port = m[1];
  int first = exocom_of(app);
  ASSERT_GT(first, 0);
  size_t mark = text.size();
  ::kill(first, SIGKILL);
  ASSERT_NE(exo->output().wait_for("ExoCom is running again at port " + port, 10s, mark), std::string::npos)
      << exo->output().text().substr(mark);
  std::string out = exo->output().text().substr(mark);
  EXPECT_NE(out.find("ExoCom stopped; messages it held for services that were offline and messages on their way "
                     "through it are lost"),
            std::string::npos)
      << out;
  int second = exocom_of(app);
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  ctrl_c(*exo);
}

// A bus that keeps dying is given up on, like a service: exo run stops, saying why.
TEST(ExoRun, AnExoComThatKeepsCrashingStopsTheRun) {
  App app;
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  for (int kills = 0; kills < 6 && !exo->process().poll(); ) {
    int pid = exocom_of(app);
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) {
      ++kills;
      // The next one is a new process: wait until this one is gone.
      for (int i = 0; i < 500 && exocom_of(app) == pid; ++i) std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(10ms);
  }
  auto code = exo->wait_exit(20s);
  ASSERT_TRUE(code) << exo->output().text();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(exo->output().text().find("'exocom' crashed 6 times in a row; giving up on it (exit code "), std::string::npos)
      << exo->output().text();
}

TEST(ExoRun, RestartOnFailureWithBackOffThenGivesUp) {
  App app;
  app.service("users", "echo users ready; exit 2", "users ready", "restart:\n  on-failure: true\n  max-restarts: 2\n");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("crashed 3 times in a row; giving up on it", 20s), std::string::npos)
      << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_NE(out.find("restarting 'users' in 250ms (restart: on-failure)"), std::string::npos) << out;
  EXPECT_NE(out.find("restarting 'users' in 500ms (restart: on-failure)"), std::string::npos) << out;
  ctrl_c(*exo);
}

TEST(ExoRun, RestartsAServiceWhenItsFilesChange) {
  App app;
  app.box.write("web/service.yml", R"(
    setup: echo building web
    startup:
      command: echo "web ready"; exec sleep 600
      online-text: web ready
    restart:
      ignore: ["**/*.log"]
      setup-on: ["src/**"]
  )");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos);
  size_t mark = exo->output().text().size();
  app.box.write("web/notes.txt", "hello");
  ASSERT_NE(exo->output().wait_for("'web' restarted successfully", 10s, mark), std::string::npos) << exo->output().text();
  std::string out = exo->output().text().substr(mark);
  EXPECT_NE(out.find("Restarting service 'web' because " + (app.box / "web/notes.txt").string() + " was"), std::string::npos) << out;
  EXPECT_EQ(out.find("building web"), std::string::npos) << "setup ran for a file outside setup-on";

  // Ignored: dot-folders, build folders, restart.ignore globs.
  mark = exo->output().text().size();
  app.box.write("web/.git/HEAD", "x");
  app.box.write("web/build/out.o", "x");
  app.box.write("web/debug.log", "x");
  // A file that counts, written last: the restart names it alone.
  app.box.write("web/after.txt", "x");
  ASSERT_NE(exo->output().wait_for("'web' restarted successfully", 10s, mark), std::string::npos) << exo->output().text();
  out = exo->output().text().substr(mark);
  EXPECT_EQ(out.find("Restarting"), out.find("Restarting service 'web' because " + (app.box / "web/after.txt").string() + " was"))
      << out;

  // A build input: setup runs first, then the restart.
  mark = exo->output().text().size();
  app.box.write("web/src/main.cpp", "int main() {}");
  ASSERT_NE(exo->output().wait_for("'web' restarted successfully", 10s, mark), std::string::npos) << exo->output().text();
  out = exo->output().text().substr(mark);
  EXPECT_NE(out.find("       web  building web"), std::string::npos) << exo->output().text();
  EXPECT_LT(out.find("building web"), out.find("restarted successfully"));
  ctrl_c(*exo);
}

TEST(ExoRun, AFailedRebuildKeepsThePreviousVersion) {
  App app;
  app.box.write("web/service.yml", R"(
    setup: "test ! -e src/broken || { echo compile error; exit 2; }"
    startup:
      command: echo "web ready"; exec sleep 600
      online-text: web ready
  )");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos);
  app.box.write("web/src/broken", "x");
  ASSERT_NE(exo->output().wait_for("setup of 'web' failed with exit code 2; it keeps running the previous version", 10s),
            std::string::npos)
      << exo->output().text();
  ctrl_c(*exo);
}

TEST(ExoRun, OnlyShowsTheChosenRoles) {
  App app;
  auto exo = app.run({"--only", "users"});
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos);
  std::string out = exo->output().text();
  EXPECT_EQ(out.find("web on "), std::string::npos) << out;
  EXPECT_NE(out.find("     users  users ready"), std::string::npos) << out;
  ctrl_c(*exo);
}

TEST(ExoRun, NothingAServicePrintsIsLost) {
  App app;
  app.service("users", "for i in $(seq 1 5000); do echo line $i; done; echo users ready; exec sleep 600", "users ready");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 30s), std::string::npos);
  EXPECT_EQ(exo->output().count("     users  line "), 5000u);
  EXPECT_NE(exo->output().text().find("users  line 5000\n"), std::string::npos);
  ctrl_c(*exo);
}

TEST(ExoRun, APortAlreadyTaken) {
  App app;
  Exocom squatter("", {"--dev-open"});
  app.box.write("web/service.yml", "startup:\n  command: exec sleep 600\ndocker:\n  ports: ['" +
                                       std::to_string(squatter.port()) + ":3000']\n");
  auto r = run_exo({"run"}, app.box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: port " + std::to_string(squatter.port()) +
                       " of 'web' is already in use; stop what uses it or change the port in web/service.yml\n");
}

TEST(ExoRun, MissingServiceYml) {
  App app;
  fs::remove(app.box / "users/service.yml");
  auto r = run_exo({"run"}, app.box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: application.yml:7: services.private.users: location './users' has no service.yml "
                   "(users/service.yml)\n");
}

TEST(ExoRun, NotInAnApplicationFolder) {
  Sandbox box;
  auto r = run_exo({"run"}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("application.yml: not found"), std::string::npos);
}

TEST(ExoRun, DockerImageServicesNeedDocker) {
  App app;
  app.box.write("application.yml", R"(
    name: demo
    services:
      public:
        search:
          docker-image: originate/search
  )");
  auto r = run_exo({"run"}, app.box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'search' runs the Docker image originate/search; exo run starts local processes only"),
            std::string::npos)
      << r.err;
}

// --bus-nodes: nats-server with JetStream and three ExoCom nodes; services spread over them; a
// killed node comes back under its name; nothing is left behind.
TEST(ExoRun, BusNodesRunAClusterOfExoComNodes) {
  App app;
  app.service("web", "echo \"web HOST=$EXOCOM_HOST\"; echo web ready; exec sleep 600", "web ready");
  app.service("users", "echo \"users HOST=$EXOCOM_HOST\"; echo users ready; exec sleep 600", "users ready");
  auto exo = app.run({"--bus-nodes", "3"});
  ASSERT_NE(exo->output().wait_for("all services online", 30s), std::string::npos) << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_NE(out.find("nats-server (JetStream) is running at port"), std::string::npos) << out;
  std::smatch m;
  std::vector<std::string> ports;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(std::regex_search(out, m, std::regex("ExoCom node exocom-" + std::to_string(i) + " is running at port (\\d+)")))
        << out;
    ports.push_back(m[1]);
  }
  // Each service lists every node, each starting on another one.
  EXPECT_NE(out.find("web HOST=127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1] + ",127.0.0.1:" + ports[2]), std::string::npos) << out;
  EXPECT_NE(out.find("users HOST=127.0.0.1:" + ports[1] + ",127.0.0.1:" + ports[2] + ",127.0.0.1:" + ports[0]), std::string::npos) << out;
  // The nodes found each other.
  ASSERT_NE(exo->output().wait_for("ExoCom node 'exocom-3' joined the cluster", 10s), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::is_directory(app.box.path() / ".exosphere/data/nats"));
  size_t mark = exo->output().text().size();
  int node = exocom_of(app, "exocom-2");
  ASSERT_GT(node, 0);
  ::kill(node, SIGKILL);
  ASSERT_NE(exo->output().wait_for("ExoCom node exocom-2 is running again at port " + ports[1], 15s, mark), std::string::npos)
      << exo->output().text().substr(mark);
  ctrl_c(*exo);
}

TEST(ExoRun, BusNodesMustBeANumber) {
  App app;
  auto exo = app.run({"--bus-nodes", "many"});
  auto code = exo->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(exo->output().wait_for("--bus-nodes: 'many' is not a number of ExoCom nodes from 1 to 9"), std::string::npos)
      << exo->output().text();
}

namespace {

// When each line containing `needle` appeared, as the test saw it, until `count` of them came.
std::vector<std::chrono::steady_clock::time_point> arrivals(Watched& exo, const std::string& needle, size_t count,
                                                            std::chrono::seconds timeout) {
  std::vector<std::chrono::steady_clock::time_point> at;
  for (auto end = std::chrono::steady_clock::now() + timeout; at.size() < count && std::chrono::steady_clock::now() < end;) {
    size_t seen = exo.output().count(needle);
    while (at.size() < seen) at.push_back(std::chrono::steady_clock::now());
    std::this_thread::sleep_for(5ms);
  }
  return at;
}

long ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

// The dashboard's address and token, from the line exo run prints.
std::pair<uint16_t, std::string> dashboard_of(Watched& exo) {
  std::string out = exo.output().text();
  size_t at = out.find("dashboard at http://localhost:");
  if (at == std::string::npos) return {0, ""};
  at += 30;
  uint16_t port = static_cast<uint16_t>(std::stoi(out.substr(at)));
  size_t t = out.find("token=", at) + 6;
  return {port, out.substr(t, out.find_first_of("\r\n &", t) - t)};
}

// POST to the dashboard as its page does; the status code.
int post(uint16_t port, const std::string& token, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: localhost:" + std::to_string(port) + "\r\nX-Exo-Token: " + token +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0;
}

}  // namespace

// A service that crashes before it is ever ready is restarted with a doubling delay (it used to be
// restarted every 250 ms forever), then given up on with one line that names it and shows its last
// output; the rest keeps running.
TEST(ExoRun, AServiceCrashingBeforeReadyBacksOffThenIsGivenUp) {
  App app;
  app.service("users", "echo connecting to the store; echo \"Error: cannot open users.db\" >&2; exit 1", "users ready",
              "restart:\n  on-failure: true\n  max-restarts: 3\n");
  auto exo = app.run();
  auto exits = arrivals(*exo, "users exited with code 1", 4, 20s);
  ASSERT_EQ(exits.size(), 4u) << exo->output().text();
  // Each restart waits at least its delay (and not much more): 250, 500, 1000 ms.
  long expected = 250;
  for (size_t i = 1; i < exits.size(); ++i, expected *= 2) {
    EXPECT_GE(ms_between(exits[i - 1], exits[i]), expected - 20) << i << "\n" << exo->output().text();
    EXPECT_LT(ms_between(exits[i - 1], exits[i]), expected + 1500) << i;
  }
  ASSERT_NE(exo->output().wait_for("giving up on it", 5s), std::string::npos) << exo->output().text();
  std::string out = exo->output().text();
  EXPECT_NE(out.find("restarting 'users' in 250ms"), std::string::npos) << out;
  EXPECT_NE(out.find("restarting 'users' in 500ms"), std::string::npos) << out;
  EXPECT_NE(out.find("restarting 'users' in 1000ms"), std::string::npos) << out;
  EXPECT_EQ(out.find("restarting 'users' in 2000ms"), std::string::npos) << out;
  EXPECT_NE(out.find("'users' crashed 4 times in a row; giving up on it (exit code 1, its last output: "
                     "\"connecting to the store\" | \"Error: cannot open users.db\"); it starts again when its files "
                     "change or with Restart on the dashboard"),
            std::string::npos)
      << out;
  // Given up means no more starts: a marked line printed now is the last thing about 'users'.
  EXPECT_EQ(exo->output().count("users exited with code 1"), 4u);
  ctrl_c(*exo);
  EXPECT_EQ(exo->output().count("users exited with code 1"), 4u) << exo->output().text();
}

// ExoCom restarted after a crash but unable to start (its port taken by someone else) backs off
// and is given up on too; without the bus exo run stops everything and exits 1, saying why.
TEST(ExoRun, AnExoComThatCannotStartAgainStopsTheRun) {
  App app;
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  uint16_t port = port_after(exo->output().text(), "ExoCom is running at port ");
  // Up for longer than kStableAfter: the crash below starts a new series, as a real one would.
  std::this_thread::sleep_for(std::chrono::milliseconds(10500));
  int pid = exocom_of(app);
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  int squatter = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;  // the services' connections to the dead bus linger in TIME_WAIT on its port
  ::setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool bound = false;
  for (int i = 0; i < 200 && !bound; ++i) {
    bound = ::bind(squatter, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(squatter, 8) == 0;
    if (!bound) std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(bound) << "could not take ExoCom's port after it died";
  auto code = exo->wait_exit(30s);
  ::close(squatter);
  ASSERT_TRUE(code) << exo->output().text();
  EXPECT_EQ(*code, 1);
  std::string out = exo->output().text();
  for (int delay : {250, 500, 1000, 2000, 4000})
    EXPECT_NE(out.find("restarting 'exocom' in " + std::to_string(delay) + "ms"), std::string::npos) << delay << "\n" << out;
  EXPECT_NE(out.find("'exocom' crashed 6 times in a row; giving up on it (exit code "), std::string::npos) << out;
  EXPECT_NE(out.find("; the application cannot run without it"), std::string::npos) << out;
  EXPECT_NE(out.find("stopping everything ..."), std::string::npos) << out;
}

// Restart pressed while the service is still stopping (Stop pressed before, its SIGTERM handler
// slow) starts it again once it has stopped; it used to answer 204 and do nothing.
TEST(ExoRun, RestartWhileStoppingRestartsOnceStopped) {
  App app;
  app.service("users", "trap \"echo stopping slowly; sleep 1; echo stopped now; exit 0\" TERM; echo users ready; "
                       "while true; do sleep 0.05; done",
              "users ready");
  auto exo = app.run();
  ASSERT_NE(exo->output().wait_for("exo-run  dashboard at http://localhost:", 20s), std::string::npos) << exo->output().text();
  auto [port, token] = dashboard_of(*exo);
  size_t mark = exo->output().text().size();
  EXPECT_EQ(post(port, token, "/api/services/users/stop"), 204);
  ASSERT_NE(exo->output().wait_for("stopping slowly", 10s, mark), std::string::npos) << exo->output().text();
  EXPECT_EQ(post(port, token, "/api/services/users/restart"), 204);
  ASSERT_NE(exo->output().wait_for("'users' restarted successfully", 10s, mark), std::string::npos) << exo->output().text();
  std::string out = exo->output().text().substr(mark);
  EXPECT_NE(out.find("restarting 'users' (from the dashboard) once it has stopped"), std::string::npos) << out;
  EXPECT_LT(out.find("stopped now"), out.find("'users' restarted successfully")) << out;
  EXPECT_EQ(out.find("'users' stopped (from the dashboard)"), std::string::npos) << out;
  ctrl_c(*exo);
}

// The stop bound: a service gets EXOSPHERE_STOP_TIMEOUT when the user set it, and one that ignores
// SIGTERM is killed after that bound plus 1 s, with a line saying so.
TEST(ExoRun, AServiceThatIgnoresSigtermIsKilledAfterTheStopBound) {
  App app;
  app.service("users", "trap \"\" TERM; echo \"bound=$EXOSPHERE_STOP_TIMEOUT\"; echo users ready; exec sleep 600", "users ready");
  auto eq = app.token.find('=');
  auto exo = start_exo({"run", "--no-dashboard"}, app.box.path(),
                       {{app.token.substr(0, eq), app.token.substr(eq + 1)}, {"EXOSPHERE_STOP_TIMEOUT", "1"}});
  ASSERT_NE(exo->output().wait_for("all services online", 20s), std::string::npos) << exo->output().text();
  EXPECT_NE(exo->output().text().find("     users  bound=1"), std::string::npos) << exo->output().text();
  auto asked = std::chrono::steady_clock::now();
  exo->signal(SIGINT);
  auto code = exo->wait_exit(15s);
  ASSERT_TRUE(code) << exo->output().text();
  long took = ms_between(asked, std::chrono::steady_clock::now());
  EXPECT_EQ(*code, 0);
  EXPECT_GE(took, 1900) << "SIGKILL before the bound plus its margin";
  EXPECT_LT(took, 5000);
  EXPECT_NE(exo->output().text().find("'users' did not stop within 1 s of SIGTERM; killed"), std::string::npos)
      << exo->output().text();
  EXPECT_EQ(exo->output().text().find("'web' did not stop"), std::string::npos) << exo->output().text();
}
