#include <gtest/gtest.h>

#include "pages.hpp"

using namespace spacetweet;

TEST(Pages, EscapeEverythingTheyShow) {
  json::object tweet{{"id", "abc\"><script>"}, {"content", "<img src=x onerror=alert(1)>"}, {"author", "<b>eve</b>"}};
  std::string html = tweet_item(tweet);
  EXPECT_EQ(html.find("<img"), std::string::npos) << html;
  EXPECT_EQ(html.find("<b>eve"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("id=\"tweet-abc&quot;&gt;&lt;script&gt;\""), std::string::npos) << html;
}

TEST(Pages, HomeShowsTheCountAndTheNewestFirst) {
  json::array tweets{json::object{{"id", "1"}, {"content", "first"}}, json::object{{"id", "2"}, {"content", "second"}}};
  json::array users{json::object{{"id", "u1"}, {"name", "Picard"}}};
  std::string html = home_page(tweets, users, "");
  EXPECT_NE(html.find("the latest tweets (<span id=\"count\">2</span>)"), std::string::npos);
  EXPECT_LT(html.find("second"), html.find("first"));
  EXPECT_NE(html.find("<option value=\"u1\">Picard</option>"), std::string::npos);
}

TEST(Pages, UsersPageCountsAndOffersSignUp) {
  std::string html = users_page(json::array{json::object{{"id", "u1"}, {"name", "Riker"}}}, "Name cannot be blank");
  EXPECT_NE(html.find("<h2>1 Users</h2>"), std::string::npos);
  EXPECT_NE(html.find("Name cannot be blank"), std::string::npos);
  EXPECT_NE(html.find("id=\"sign-up\""), std::string::npos);
}

TEST(Pages, TheLayoutListensOnlyWithAGateway) {
  EXPECT_NE(layout("x", "", {3001, ""}).find("exocom.js"), std::string::npos);
  EXPECT_NE(layout("x", "", {0, "wss://exocom.example.com/"}).find("data-gateway-url=\"wss://exocom.example.com/\""),
            std::string::npos);
  EXPECT_EQ(layout("x", "", {}).find("exocom.js"), std::string::npos);
}
