#include <gtest/gtest.h>

#include "common/text.hpp"

using namespace exo;

TEST(Text, TrimAndSplit) {
  EXPECT_EQ(trim("  a b \n"), "a b");
  EXPECT_EQ(split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(split_lines("one\r\ntwo\n"), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(join({"a", "b"}, " and "), "a and b");
}

TEST(Text, EnvName) {
  EXPECT_EQ(env_name("users-service"), "USERS_SERVICE");
  EXPECT_EQ(env_name("web.v2"), "WEB_V2");
}

TEST(Text, GlobMatchesPathsLikeAShell) {
  EXPECT_TRUE(glob_match("**/*.txt", "test.txt"));
  EXPECT_TRUE(glob_match("**/*.txt", "a/b/test.txt"));
  EXPECT_FALSE(glob_match("*.txt", "a/test.txt"));
  EXPECT_TRUE(glob_match("src/**", "src/a/b.cpp"));
  EXPECT_TRUE(glob_match("build/*", "build/x"));
  EXPECT_FALSE(glob_match("build/*", "build/x/y"));
  EXPECT_TRUE(glob_match("file?.c", "file1.c"));
  EXPECT_FALSE(glob_match("file?.c", "file12.c"));
}

TEST(Text, ShellQuote) {
  EXPECT_EQ(shell_quote("plain-word"), "plain-word");
  EXPECT_EQ(shell_quote("two words"), "'two words'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(Text, QueryValue) {
  EXPECT_EQ(query_value("a=1&token=xyz&b=2", "token"), "xyz");
  EXPECT_EQ(query_value("token=", "token"), "");
  EXPECT_EQ(query_value("tokens=1&xtoken=2", "token"), "");
  EXPECT_EQ(query_value("", "token"), "");
}
