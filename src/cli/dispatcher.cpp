#include "cli/dispatcher.hpp"

#include <cstdio>
#include <exception>

#include "common/error.hpp"
#include "common/log.hpp"

namespace exo::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      add_command(),
      clean_command(),
      clone_command(),
      completion_command(),
      configure_command(),
      create_command(),
      deploy_command(),
      generate_command(),
      lint_command(),
      run_command(),
      setup_command(),
      sync_command(),
      test_command(),
      version_command(),
  };
  return table;
}

std::optional<std::string> resolve_abbreviation(std::string_view word, const std::vector<std::string>& names) {
  if (word.empty()) return std::nullopt;
  std::optional<std::string> found;
  for (const auto& n : names) {
    if (n == word) return n;
    if (n.starts_with(word)) {
      if (found) return std::nullopt;  // ambiguous
      found = n;
    }
  }
  return found;
}

std::string usage() {
  std::string out = "Usage: exo <command> [options]\n\nAvailable commands are:\n";
  size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, c.name.size());
  for (const auto& c : commands()) {
    if (c.name == "version") continue;
    out += "  " + std::string(c.name) + std::string(width - c.name.size() + 2, ' ') + std::string(c.summary) + "\n";
  }
  out += "\nUse \"exo <command> help\" or \"exo help <command>\" for more information about a specific command.\n";
  return out;
}

namespace {

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& c : commands()) names.emplace_back(c.name);
  return names;
}

const Command* find_command(std::string_view word) {
  auto name = resolve_abbreviation(word, command_names());
  if (!name) return nullptr;
  for (const auto& c : commands())
    if (c.name == *name) return &c;
  return nullptr;
}

int fail_with_usage(const std::string& message) {
  bool color = colors_wanted(stderr);
  std::fprintf(stderr, "%s\n\n%s", paint("Error: " + message, Color::red, color).c_str(), usage().c_str());
  return 1;
}

int dispatch(const Args& args) {
  if (args.empty()) return fail_with_usage("missing command");
  const std::string& word = args[0];
  if (word == "help" || word == "--help" || word == "-h") {
    if (args.size() < 2) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    const Command* c = find_command(args[1]);
    if (!c) return fail_with_usage("unknown command '" + args[1] + "'");
    std::fputs(c->help.data(), stdout);
    return 0;
  }
  if (word == "--version" || word == "-v") return find_command("version")->run({});
  const Command* c = find_command(word);
  if (!c) return fail_with_usage("unknown command '" + word + "'");
  Args rest(args.begin() + 1, args.end());
  if (!rest.empty() && (rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h")) {
    std::fputs(c->help.data(), stdout);
    return 0;
  }
  return c->run(rest);
}

}  // namespace

int main(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  try {
    return dispatch(args);
  } catch (const UserError& e) {
    std::fflush(stdout);
    bool color = colors_wanted(stderr);
    std::fprintf(stderr, "%s\n", paint(std::string("Error: ") + e.what(), Color::red, color).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
}

}  // namespace exo::cli
