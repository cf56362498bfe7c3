#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/text.hpp"
#include "runner/ports.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(Usage: exo test [--parallel] [--junit <file>]

Runs the tests of a service (in its folder) or of every service of an application (in its root
folder): each service's `tests` command, after starting the dependencies it declares. Prints
"<role> works" or "<role> is broken" per service and exits with 1 when any is broken.

Options:
  --parallel       test the services at the same time
  --junit <file>   also write the results as JUnit XML
)";

struct Outcome {
  std::string role;
  enum { works, broken, skipped } result = works;
  std::string detail;
  std::string output;
  double seconds = 0;
};

// A dependency started for a service's tests: waits for its online text, keeps its output flowing.
class TestDependency {
 public:
  TestDependency(const config::ServiceDependency& d, const std::string& role, Logger& log)
      : label_(role + "-" + d.name), port_(runner::free_port()) {
    SpawnOptions o;
    o.argv = shell(d.command);
    o.env = d.environment;
    o.env["PORT"] = std::to_string(port_);
    o.merge_stderr = true;
    o.die_with_parent = true;
    process_ = Process(o);
    reader_ = std::thread([this, &log, text = d.online_text] {
      std::string partial;
      char buf[4096];
      while (true) {
        ssize_t n = ::read(process_.stdout_fd(), buf, sizeof buf);
        if (n <= 0) break;
        partial.append(buf, static_cast<size_t>(n));
        for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
          std::string line = partial.substr(0, nl);
          log.log(label_, line);
          if (!text.empty() && line.find(text) != std::string::npos) mark_ready();
        }
      }
      mark_ready();
    });
    if (d.online_text.empty()) mark_ready();
  }
  ~TestDependency() {
    process_.stop(std::chrono::milliseconds(2000));
    reader_.join();
  }
  bool wait_ready(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return ready_; }) && process_.running();
  }
  uint16_t port() const { return port_; }

 private:
  void mark_ready() {
    std::lock_guard lock(mutex_);
    ready_ = true;
    cv_.notify_all();
  }
  std::string label_;
  uint16_t port_;
  Process process_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool ready_ = false;
};

Outcome test_service(const std::string& role, const config::Service& s, Logger& log,
                     const std::map<std::string, std::string>& env) {
  Outcome out;
  out.role = role;
  if (s.tests.empty()) {
    out.result = Outcome::skipped;
    log.log("exo-test", role + " has no tests, skipping");
    return out;
  }
  auto start = std::chrono::steady_clock::now();
  SpawnOptions o;
  o.argv = shell(s.tests);
  o.cwd = s.dir;
  o.env = env;
  o.env["ROLE"] = role;
  std::vector<std::unique_ptr<TestDependency>> deps;
  for (const auto& d : s.dependencies) {
    if (d.command.empty()) {
      out.result = Outcome::broken;
      out.detail = "its dependency '" + d.name + "' is a Docker image; give it a 'command' to test locally";
      log.error("exo-test", role + " is broken: " + out.detail);
      return out;
    }
    deps.push_back(std::make_unique<TestDependency>(d, role, log));
    if (!deps.back()->wait_ready(std::chrono::seconds(60))) {
      out.result = Outcome::broken;
      out.detail = "its dependency '" + d.name + "' did not start";
      log.error("exo-test", role + " is broken: " + out.detail);
      return out;
    }
    o.env[env_name(d.name)] = "127.0.0.1";
    o.env[env_name(d.name) + "_PORT"] = std::to_string(deps.back()->port());
  }
  int code;
  try {
    code = run_lines(o, [&](const std::string& line) {
      log.log(role, line);
      out.output += line + "\n";
    });
  } catch (const UserError& e) {
    code = 127;
    out.output = e.what();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (code == 0) {
    log.log("exo-test", role + " works", Color::green);
  } else {
    out.result = Outcome::broken;
    out.detail = "exit code " + std::to_string(code);
    log.error("exo-test", role + " is broken");
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
}

void write_junit(const fs::path& file, const std::string& suite, const std::vector<Outcome>& outcomes) {
  size_t failures = 0, skipped = 0;
  double total = 0;
  for (const auto& o : outcomes) {
    failures += o.result == Outcome::broken;
    skipped += o.result == Outcome::skipped;
    total += o.seconds;
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += fmt::format("<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                     xml_escape(suite), outcomes.size(), failures, skipped, total);
  for (const auto& o : outcomes) {
    xml += fmt::format("  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml_escape(suite), xml_escape(o.role), o.seconds);
    if (o.result == Outcome::works) {
      xml += "/>\n";
    } else if (o.result == Outcome::skipped) {
      xml += ">\n    <skipped message=\"no tests\"/>\n  </testcase>\n";
    } else {
      xml += fmt::format(">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n", xml_escape(o.detail), xml_escape(o.output));
    }
  }
  xml += "</testsuite>\n";
  write_file(file, xml);
}

int summarize(const std::vector<Outcome>& outcomes, Logger& log, const std::string& junit, const std::string& suite) {
  if (!junit.empty()) write_junit(junit, suite, outcomes);
  std::vector<std::string> broken;
  for (const auto& o : outcomes)
    if (o.result == Outcome::broken) broken.push_back(o.role);
  if (broken.empty()) {
    log.log("exo-test", "All tests passed", Color::green);
    return 0;
  }
  log.error("exo-test", "Tests failed: " + join(broken, ", "));
  return 1;
}

int run_test(const Args& args) {
  bool parallel = false;
  std::string junit;
  Options("test").flag("--parallel", &parallel, "test services at the same time").option("--junit", &junit, "JUnit XML file").parse(args);
  fs::path cwd = fs::current_path();
  auto env = runner::find_toolchain().env();
  if (path_exists(cwd / "service.yml")) {
    config::Warnings warnings;
    config::Service s = config::load_service(cwd, warnings);
    print_warnings(warnings);
    std::string role = cwd.filename().string();
    if (path_exists(cwd.parent_path() / "application.yml")) {
      // Inside an application: the role application.yml gives this folder.
      config::Warnings w;
      try {
        auto app = config::load_application(cwd.parent_path(), w);
        for (const auto& ref : app.services)
          if (!ref.location.empty() && fs::weakly_canonical(config::service_dir(app, ref)) == fs::weakly_canonical(cwd))
            role = ref.role;
      } catch (const UserError&) {
      }
    }
    Logger log({role, "exo-test"});
    log.log("exo-test", "Testing service '" + role + "'");
    std::vector<Outcome> outcomes{test_service(role, s, log, env)};
    return summarize(outcomes, log, junit, role);
  }
  if (!path_exists(cwd / "application.yml"))
    throw UserError("Tests do not exist. Not in service or application directory: run exo test in a folder with "
                    "service.yml or application.yml");
  Workspace ws = load_workspace(cwd);
  auto roles = ws.app.roles();
  roles.push_back("exo-test");
  for (const auto& [role, s] : ws.services)
    for (const auto& d : s.dependencies) roles.push_back(role + "-" + d.name);
  Logger log(roles);
  log.log("exo-test", "Testing application '" + ws.app.name + "'");
  std::vector<Outcome> outcomes;
  std::vector<const config::ServiceRef*> local;
  for (const auto& ref : ws.app.services) {
    if (ref.location.empty()) log.log("exo-test", ref.role + " runs an image; skipping");
    else local.push_back(&ref);
  }
  outcomes.resize(local.size());
  if (parallel) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < local.size(); ++i)
      threads.emplace_back([&, i] { outcomes[i] = test_service(local[i]->role, ws.services.at(local[i]->role), log, env); });
    for (auto& t : threads) t.join();
  } else {
    for (size_t i = 0; i < local.size(); ++i) outcomes[i] = test_service(local[i]->role, ws.services.at(local[i]->role), log, env);
  }
  return summarize(outcomes, log, junit, ws.app.name);
}

}  // namespace

Command test_command() { return {"test", "Run the tests for an application or service", kHelp, run_test}; }

}  // namespace exo::cli
