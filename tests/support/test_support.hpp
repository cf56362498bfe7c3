#pragma once

#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/files.hpp"
#include "common/process.hpp"

namespace exo::test {

namespace fs = std::filesystem;

// How much slower than a release build this build runs: time bounds a user would notice (failover
// within 2 s) are checked as bound × kSlowdown, so sanitizer runs test the logic, not their speed.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSlowdown = 4;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSlowdown = 2;
#else
inline constexpr int kSlowdown = 1;
#endif

// A temporary folder holding files a test writes, removed afterwards.
class Sandbox {
 public:
  Sandbox() : dir_("exo-test") {}
  const fs::path& path() const { return dir_.path(); }
  fs::path operator/(const fs::path& rel) const { return dir_.path() / rel; }
  // Writes `content` (leading newline and common indentation removed) to `rel`.
  void write(const fs::path& rel, std::string_view content) const;
  std::string read(const fs::path& rel) const;

 private:
  TempDir dir_;
};

// Removes a leading newline and the indentation of the first line from every line, so tests can
// write YAML inline at their own indentation.
std::string dedent(std::string_view text);

// A recording stand-in for a program (docker, aws, terraform): a script first on PATH that
// appends each call's arguments as one line to a log and answers from a table of
// `argument prefix → exit code and output`.
class StandIn {
 public:
  StandIn(const Sandbox& box, const std::string& program);
  // Calls whose arguments start with `prefix` print `out` (and `err` on stderr) and exit with
  // `code`; with `read_stdin` their standard input is kept (see stdin_received); with
  // `hold_seconds` they run that long before they exit (a container). The latest matching rule
  // wins; calls no rule matches exit 0 silently.
  void on(const std::string& prefix, int code, const std::string& out = "", const std::string& err = "",
          bool read_stdin = false, int hold_seconds = 0);
  std::vector<std::string> calls() const;
  std::string stdin_received() const;
  std::string path_dir() const { return bin_.string(); }
  // Every stand-in's calls in the sandbox, in order, as `<program> <arguments>`.
  static std::vector<std::string> all_calls(const Sandbox& box);
  // PATH with the stand-ins first.
  static std::string path_with(const fs::path& bin);

 private:
  struct Rule {
    std::string prefix;
    int code;
    std::string out, err;
    bool read_stdin;
    int hold_seconds;
  };
  void write_script() const;
  fs::path bin_, log_;
  std::string program_;
  std::vector<Rule> rules_;
};

// Runs git in `cwd` with a fixed identity; fails the test when git fails. Returns its output.
std::string git(const fs::path& cwd, std::vector<std::string> args);
// Copies the folder `from` (recursively) to `to`.
void copy_tree(const fs::path& from, const fs::path& to);

// What exo adds to a container build on this machine: its certificate authorities as the secret
// host-ca, when it has the bundle ("--secret id=host-ca,src=... " or "").
std::string host_ca_build_flag();

// The built `exo` with `args`, in `cwd`, with NO_COLOR set and `env` added.
SpawnOptions exo_command(const std::vector<std::string>& args, const fs::path& cwd, std::map<std::string, std::string> env);
// Runs the built `exo` as a user types it, in `cwd`, with NO_COLOR set.
RunResult run_exo(const std::vector<std::string>& args, const fs::path& cwd, std::string_view input = {},
                  std::map<std::string, std::string> env = {});

}  // namespace exo::test
