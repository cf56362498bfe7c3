#pragma once

#include <stdexcept>
#include <string>

namespace exo {

// Control characters in `text` written as escapes (\n, \t, \x1b): a message stays one line.
std::string one_line(const std::string& text);

// An error the user caused and can fix: printed as one line (or a list of problems, one per line),
// never with a stack trace.
class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// A state the program believes impossible: stop loudly with where it happened.
[[noreturn]] void bug(const char* what, const char* file, int line);

}  // namespace exo

#define EXO_ASSERT(cond) \
  do { if (!(cond)) ::exo::bug(#cond, __FILE__, __LINE__); } while (false)
