#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"

namespace exo::config {

// Where in a file something is: the file as the user sees it, the 1-based line, the key path.
struct Location {
  std::string file;
  int line = 0;
  std::string key;
  std::string str() const;  // "application.yml:7: services.public.web"
};

// A problem in a configuration file, as one actionable line: `file:line: key: what was expected`.
// What it quotes from the file (or from the YAML parser) cannot break the line.
class ConfigError : public UserError {
 public:
  ConfigError(const Location& where, const std::string& message)
      : UserError(one_line(where.str() + ": " + message)), where_(where) {}
  const Location& where() const { return where_; }

 private:
  Location where_;
};

// Warnings (unknown keys and the like): reported, never fatal.
struct Warnings {
  std::vector<std::string> lines;
  void add(const Location& where, const std::string& message) { lines.push_back(where.str() + ": " + message); }
};

}  // namespace exo::config
