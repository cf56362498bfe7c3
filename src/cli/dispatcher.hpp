#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.hpp"

namespace exo::cli {

// Resolves `word` against `names`: an exact name, or a prefix that only one name starts with.
std::optional<std::string> resolve_abbreviation(std::string_view word, const std::vector<std::string>& names);
std::string usage();
// The `exo` entry point: dispatches, prints errors as one line, returns the exit code.
int main(int argc, char** argv);

}  // namespace exo::cli
