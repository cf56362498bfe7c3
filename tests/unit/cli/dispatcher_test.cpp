#include <gtest/gtest.h>

#include <algorithm>

#include "cli/dispatcher.hpp"

using exo::cli::resolve_abbreviation;

namespace {
// The names of the commands `exo` really has: a new command that makes a documented abbreviation
// ambiguous ("exo r" for run) fails here.
std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& c : exo::cli::commands()) names.emplace_back(c.name);
  return names;
}
const std::vector<std::string> kCommands = command_names();
}  // namespace

TEST(Commands, TheTableHoldsEveryCommandOnce) {
  auto names = command_names();
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a command is listed twice";
  for (const char* expected : {"add", "clean", "clone", "configure", "create", "deploy", "generate", "lint", "run", "setup",
                               "sync", "test", "version"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST(Abbreviations, UniquePrefixesResolve) {
  EXPECT_EQ(resolve_abbreviation("r", kCommands), "run");
  EXPECT_EQ(resolve_abbreviation("a", kCommands), "add");
  EXPECT_EQ(resolve_abbreviation("cle", kCommands), "clean");
  EXPECT_EQ(resolve_abbreviation("clo", kCommands), "clone");
  EXPECT_EQ(resolve_abbreviation("cr", kCommands), "create");
  EXPECT_EQ(resolve_abbreviation("se", kCommands), "setup");
  EXPECT_EQ(resolve_abbreviation("sy", kCommands), "sync");
  EXPECT_EQ(resolve_abbreviation("tes", kCommands), "test");
  EXPECT_EQ(resolve_abbreviation("lint", kCommands), "lint");
}

TEST(Abbreviations, AmbiguousOrUnknownDoNot) {
  EXPECT_EQ(resolve_abbreviation("c", kCommands), std::nullopt);
  EXPECT_EQ(resolve_abbreviation("cl", kCommands), std::nullopt);
  EXPECT_EQ(resolve_abbreviation("s", kCommands), std::nullopt);
  EXPECT_EQ(resolve_abbreviation("zonk", kCommands), std::nullopt);
  EXPECT_EQ(resolve_abbreviation("", kCommands), std::nullopt);
  EXPECT_EQ(resolve_abbreviation("runner", kCommands), std::nullopt);
}

TEST(Abbreviations, EntitiesOfCreate) {
  std::vector<std::string> entities = {"application", "service"};
  EXPECT_EQ(resolve_abbreviation("a", entities), "application");
  EXPECT_EQ(resolve_abbreviation("serv", entities), "service");
}
