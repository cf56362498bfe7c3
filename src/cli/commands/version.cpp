#include <cstdio>

#include "cli/command.hpp"
#include "exo_build_info.hpp"

namespace exo::cli {

static int run_version(const Args&) {
  std::printf("Exosphere version %s (git commit %s)\n", EXO_VERSION, EXO_GIT_COMMIT);
  return 0;
}

Command version_command() {
  return {"version", "Print the version of Exosphere", "Usage: exo version\n\nPrints the version of Exosphere and the git commit it was built from.\n",
          run_version};
}

}  // namespace exo::cli
