#pragma once

#include <filesystem>
#include <string>

#include "cli/command.hpp"

namespace exo::cli {

struct NewService {
  std::string role, type, description, author, template_name, model_name, protection_level;
};

// The questions `exo add` and `exo create service` share: flags first, a prompt for each missing
// answer. Throws UserError on a bad flag value.
NewService ask_for_service(const std::string& command, const Args& args, const std::filesystem::path& app_root);
// Renders the chosen template into `destination` and prints what it wrote.
void scaffold_service(const NewService& s, const std::string& app_name, const std::filesystem::path& app_root,
                      const std::filesystem::path& destination);

}  // namespace exo::cli
