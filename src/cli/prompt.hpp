#pragma once

#include <functional>
#include <string>
#include <vector>

namespace exo::cli {

// Questions on standard input, one line per answer. When input ends without an answer the
// question becomes a UserError that names the flag to pass instead.
class Prompt {
 public:
  // `flag` is how to give the answer without the question (for the error message).
  std::string ask(const std::string& question, const std::string& flag, const std::string& default_value = {},
                  bool required = false);
  // One of `choices` by name or number; Enter takes the first.
  std::string choose(const std::string& question, const std::string& flag, const std::vector<std::string>& choices);
  // A yes/no question, "no" unless the answer is y or yes.
  bool confirm(const std::string& question, const std::string& flag);
  // A value that is not shown while typed (on a terminal); required.
  std::string ask_secret(const std::string& question);
};

}  // namespace exo::cli
