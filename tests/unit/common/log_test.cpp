#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "common/log.hpp"

using namespace exo;

namespace {
std::string capture(const std::function<void(Logger&)>& body, const std::vector<std::string>& roles) {
  std::FILE* f = std::tmpfile();
  {
    Logger log(roles, f);
    body(log);
  }
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}
}  // namespace

TEST(Logger, RightAlignsRolesToAtLeastTenColumns) {
  auto out = capture([](Logger& l) { l.log("web", "user.delete"); }, {"web"});
  EXPECT_EQ(out, "       web  user.delete\n");
}

TEST(Logger, WidensToTheLongestRole) {
  auto out = capture([](Logger& l) { l.log("web", "hi"); }, {"web", "a-very-long-role"});
  EXPECT_EQ(out, "             web  hi\n");
}

TEST(Logger, PrefixesEveryLine) {
  auto out = capture([](Logger& l) { l.log("exo-run", "one\ntwo\n"); }, {});
  EXPECT_EQ(out, "   exo-run  one\n   exo-run  two\n");
}

TEST(Logger, NoColorsWhenNotATerminal) {
  auto out = capture([](Logger& l) { l.log("exocom", "trace", Color::red); }, {});
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(Logger, PaintRespectsTheSwitch) {
  EXPECT_EQ(paint("x", Color::red, false), "x");
  EXPECT_EQ(paint("x", Color::red, true), "\x1b[31mx\x1b[0m");
}
