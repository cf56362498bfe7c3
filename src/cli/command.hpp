#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace exo::cli {

using Args = std::vector<std::string>;

// One `exo` command: its name, the one-line summary in the usage, its help text, and its body.
struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view help;
  int (*run)(const Args& args);
};

// The table of every command, in alphabetical order.
const std::vector<Command>& commands();

// One file per command under commands/, each defining its entry of the table.
Command add_command();
Command clean_command();
Command clone_command();
Command completion_command();
Command configure_command();
Command create_command();
Command deploy_command();
Command generate_command();
Command lint_command();
Command run_command();
Command setup_command();
Command sync_command();
Command test_command();
Command version_command();

struct Workspace;
// `exo generate terraform` (commands/deploy.cpp).
int generate_terraform(const Args& args);

}  // namespace exo::cli
