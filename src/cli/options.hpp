#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"

namespace exo::cli {

// Declares a command's flags and positionals, then parses its arguments. A wrong argument becomes
// a one-line UserError that points at `exo <command> help`. (CLI11 lives behind this, in one file.)
class Options {
 public:
  explicit Options(std::string command);
  ~Options();
  Options& flag(const std::string& name, bool* target, const std::string& help);
  Options& option(const std::string& name, std::string* target, const std::string& help);
  Options& option(const std::string& name, int* target, const std::string& help);
  Options& list(const std::string& name, std::vector<std::string>* target, const std::string& help);
  Options& positionals(std::vector<std::string>* target);
  void parse(const Args& args);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::cli
