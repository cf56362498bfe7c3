#include <cstdio>

#include "cli/command.hpp"

namespace exo::cli {

static int run_version(const Args&) {
  std::printf("Exosphere version %s\n", EXO_VERSION);
  return 0;
}

Command version_command() {
  return {"version", "Print the version of Exosphere", "Usage: exo version\n\nPrints the version of Exosphere.\n",
          run_version};
}

}  // namespace exo::cli
