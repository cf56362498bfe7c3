#include "common/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace exo {

void bug(const char* what, const char* file, int line) {
  std::fprintf(stderr, "internal error: %s (%s:%d); please report this as a bug\n", what, file, line);
  std::abort();
}

}  // namespace exo
