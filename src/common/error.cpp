#include "common/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace exo {

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

void bug(const char* what, const char* file, int line) {
  std::fprintf(stderr, "internal error: %s (%s:%d); please report this as a bug\n", what, file, line);
  std::abort();
}

}  // namespace exo
