#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include "common/text.hpp"

namespace exo::test {

std::string dedent(std::string_view text) {
  if (!text.empty() && text[0] == '\n') text.remove_prefix(1);
  size_t indent = 0;
  while (indent < text.size() && text[indent] == ' ') ++indent;
  std::string out;
  for (const auto& line : split(text, '\n')) {
    size_t strip = 0;
    while (strip < indent && strip < line.size() && line[strip] == ' ') ++strip;
    out += line.substr(strip) + "\n";
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

void Sandbox::write(const fs::path& rel, std::string_view content) const {
  write_file(path() / rel, dedent(content));
}

std::string Sandbox::read(const fs::path& rel) const { return read_file(path() / rel); }

SpawnOptions exo_command(const std::vector<std::string>& args, const fs::path& cwd, std::map<std::string, std::string> env) {
  SpawnOptions o;
  o.argv = {EXO_BINARY};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.cwd = cwd;
  env.emplace("NO_COLOR", "1");
  o.env = std::move(env);
  return o;
}

RunResult run_exo(const std::vector<std::string>& args, const fs::path& cwd, std::string_view input,
                  std::map<std::string, std::string> env) {
  return run_captured(exo_command(args, cwd, std::move(env)), input, std::chrono::seconds(120));
}

}  // namespace exo::test

namespace exo::test {

std::string git(const fs::path& cwd, std::vector<std::string> args) {
  SpawnOptions o;
  o.argv = {"git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.cwd = cwd;
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 0) << "git " << join(args, " ") << ": " << r.out << r.err;
  return r.out;
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

StandIn::StandIn(const Sandbox& box, const std::string& program)
    : bin_(box / "stand-ins"), log_(box / ("stand-ins/" + program + ".calls")), program_(program) {
  fs::create_directories(bin_);
  write_file(log_, "");
  if (!path_exists(bin_ / "all.calls")) write_file(bin_ / "all.calls", "");
  write_script();
}

void StandIn::on(const std::string& prefix, int code, const std::string& out, const std::string& err, bool read_stdin,
                 int hold_seconds) {
  rules_.push_back({prefix, code, out, err, read_stdin, hold_seconds});
  write_script();
}

void StandIn::write_script() const {
  std::string s = "#!/bin/bash\n# recording stand-in for " + program_ + "\nargs=\"$*\"\nprintf '%s\\n' \"$args\" >> " +
                  shell_quote(log_.string()) + "\nprintf '%s %s\\n' " + shell_quote(program_) + " \"$args\" >> " +
                  shell_quote((bin_ / "all.calls").string()) + "\n";
  // The latest rule wins, so a test can override a general answer with a specific one.
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    s += "case \"$args\" in " + shell_quote(it->prefix) + "*) ";
    if (it->read_stdin) s += "cat >> " + shell_quote((bin_ / (program_ + ".stdin")).string()) + "; ";
    s += "printf '%s' " + shell_quote(it->out) + "; printf '%s' " + shell_quote(it->err) + " >&2; " +
         (it->hold_seconds ? "sleep " + std::to_string(it->hold_seconds) + "; " : "") + "exit " + std::to_string(it->code) + ";; esac\n";
  }
  s += "exit 0\n";
  fs::path script = bin_ / program_;
  write_file(script, s);
  fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
}

std::string StandIn::stdin_received() const { return try_read_file(bin_ / (program_ + ".stdin")).value_or(""); }

std::vector<std::string> StandIn::all_calls(const Sandbox& box) { return split_lines(read_file(box / "stand-ins/all.calls")); }

std::vector<std::string> StandIn::calls() const {
  auto lines = split_lines(read_file(log_));
  return lines;
}

std::string StandIn::path_with(const fs::path& bin) {
  const char* path = std::getenv("PATH");
  return bin.string() + ":" + (path ? path : "/usr/bin:/bin");
}

std::string host_ca_build_flag() {
  const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
  return fs::exists(bundle) ? std::string("--secret id=host-ca,src=") + bundle + " " : "";
}

}  // namespace exo::test
