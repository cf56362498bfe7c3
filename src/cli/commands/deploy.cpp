#include "cli/command.hpp"
#include "common/error.hpp"

namespace exo::cli {

int generate_terraform(const Args&) {
  throw UserError("exo generate terraform is not available in this version yet");
}

}  // namespace exo::cli
