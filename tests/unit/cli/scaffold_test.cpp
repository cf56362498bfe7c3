#include <gtest/gtest.h>

#include "cli/scaffold.hpp"
#include "support/test_support.hpp"

using exo::cli::insert_service;
using exo::cli::render_text;
using exo::test::dedent;

TEST(InsertService, UnderAnEmptyLevel) {
  EXPECT_EQ(insert_service(dedent(R"(
    name: foo

    services:
      public:
      private:
  )"), "public", "users", "./users"),
            dedent(R"(
    name: foo

    services:
      public:
        users:
          location: ./users
      private:
  )"));
}

TEST(InsertService, AlphabeticallyAmongSiblingsKeepingComments) {
  EXPECT_EQ(insert_service(dedent(R"(
    # my app
    name: foo
    services:
      public:
        # the front end
        alpha:
          location: ./alpha  # keep me
        # the back end
        zeta:
          location: ./zeta
      private:
        x:
          location: ./x
  )"), "public", "mid", "./mid"),
            dedent(R"(
    # my app
    name: foo
    services:
      public:
        # the front end
        alpha:
          location: ./alpha  # keep me
        mid:
          location: ./mid
        # the back end
        zeta:
          location: ./zeta
      private:
        x:
          location: ./x
  )"));
}

TEST(InsertService, AtTheEndOfALevel) {
  EXPECT_EQ(insert_service("services:\n  public:\n    a:\n      location: ./a\n  private:\n", "public", "b", "./b"),
            "services:\n  public:\n    a:\n      location: ./a\n    b:\n      location: ./b\n  private:\n");
}

TEST(InsertService, CreatesAMissingLevelAndSection) {
  EXPECT_EQ(insert_service("name: foo\nservices:\n  public:\n", "private", "db", "./db"),
            "name: foo\nservices:\n  public:\n  private:\n    db:\n      location: ./db\n");
  EXPECT_EQ(insert_service("name: foo\n", "public", "web", "./web"),
            "name: foo\nservices:\n  public:\n    web:\n      location: ./web\n");
}

TEST(InsertService, FlowStyleBecomesBlock) {
  EXPECT_EQ(insert_service("name: foo\nservices: {}\n", "public", "web", "./web"),
            "name: foo\nservices:\n  public:\n    web:\n      location: ./web\n");
}

TEST(InsertService, FourSpaceIndentationIsKept) {
  EXPECT_EQ(insert_service("services:\n    public:\n        b:\n            location: ./b\n", "public", "a", "./a"),
            "services:\n    public:\n        a:\n          location: ./a\n        b:\n            location: ./b\n");
}

TEST(RenderText, SubstitutesWithoutHtmlEscaping) {
  EXPECT_EQ(render_text("{{name}} <{{x}}>", {{"name", "a&b"}, {"x", "\"q\""}}), "a&b <\"q\">");
  EXPECT_EQ(render_text("{{missing}}!", {}), "!");
}
