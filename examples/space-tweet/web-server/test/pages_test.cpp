#include <gtest/gtest.h>

#include <chrono>

#include "pages.hpp"
#include "session.hpp"

using namespace spacetweet;

namespace {
const Viewer kPicard{"u1", "Picard", "token-1", "live-1"};
const Viewer kVisitor{"", "", "token-0", ""};
}  // namespace

TEST(Pages, EscapeEverythingTheyShow) {
  json::object tweet{{"id", "abc\"><script>"}, {"content", "<img src=x onerror=alert(1)>"}, {"author", "<b>eve</b>"}, {"owner_id", "u9"}};
  std::string html = tweet_item(tweet, kVisitor);
  EXPECT_EQ(html.find("<img"), std::string::npos) << html;
  EXPECT_EQ(html.find("<b>eve"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("id=\"tweet-abc&quot;&gt;&lt;script&gt;\""), std::string::npos) << html;
}

TEST(Pages, OnlyTheAuthorGetsADeleteButton) {
  json::object tweet{{"id", "t1"}, {"content", "Make it so"}, {"author", "Picard"}, {"owner_id", "u1"}};
  EXPECT_NE(tweet_item(tweet, kPicard).find("_method=DELETE"), std::string::npos);
  EXPECT_NE(tweet_item(tweet, kPicard).find("value=\"token-1\""), std::string::npos) << "the form carries the CSRF token";
  EXPECT_EQ(tweet_item(tweet, kVisitor).find("_method=DELETE"), std::string::npos);
  EXPECT_EQ(tweet_item(tweet, Viewer{"u2", "Riker", "t", "l"}).find("_method=DELETE"), std::string::npos);
}

TEST(Pages, HomeOffersTheTweetFormOnlyToSomeoneLoggedIn) {
  json::array tweets{json::object{{"id", "2"}, {"content", "second"}}, json::object{{"id", "1"}, {"content", "first"}}};
  std::string mine = home_page(tweets, {"/", 1, true}, kPicard, {}, false);
  EXPECT_NE(mine.find("id=\"new-tweet\""), std::string::npos);
  EXPECT_EQ(mine.find("owner_id"), std::string::npos) << "no author field";
  EXPECT_NE(mine.find("<label for=\"tweet-content\">"), std::string::npos);
  EXPECT_LT(mine.find("second"), mine.find("first")) << "in the order given: newest first";
  EXPECT_NE(mine.find("href=\"/?page=2\""), std::string::npos);
  std::string theirs = home_page(tweets, {"/", 2, false}, kVisitor, {}, false);
  EXPECT_EQ(theirs.find("id=\"new-tweet\""), std::string::npos);
  EXPECT_NE(theirs.find("href=\"/\">&larr; newer"), std::string::npos);
  EXPECT_EQ(theirs.find("older"), std::string::npos);
}

TEST(Pages, ErrorsShowOnThePageWithWhatWasTyped) {
  std::string html = home_page({}, {"/", 1, false}, kPicard, {"too <long>", "A tweet has at most 280 characters"}, false);
  EXPECT_NE(html.find("role=\"alert\">A tweet has at most 280 characters"), std::string::npos);
  EXPECT_NE(html.find(">too &lt;long&gt;</textarea>"), std::string::npos);
}

TEST(Pages, TheLayoutListensOnlyWithAGatewayAndProvesItsUser) {
  EXPECT_NE(layout("x", "", kPicard, {3001, ""}).find("exocom.js"), std::string::npos);
  EXPECT_NE(layout("x", "", kPicard, {3001, ""}).find("data-live-token=\"live-1\""), std::string::npos);
  EXPECT_EQ(layout("x", "", kVisitor, {3001, ""}).find("data-live-token"), std::string::npos);
  EXPECT_NE(layout("x", "", kVisitor, {0, "wss://exocom.example.com/"}).find("data-gateway-url=\"wss://exocom.example.com/\""),
            std::string::npos);
  EXPECT_EQ(layout("x", "", kPicard, {}).find("exocom.js"), std::string::npos);
  EXPECT_NE(layout("x", "", kPicard, {}).find(">Picard</a>"), std::string::npos);
  EXPECT_NE(layout("x", "", kVisitor, {}).find("href=\"/login\""), std::string::npos);
}

TEST(Sessions, CookiesAndTokensAreBoundToTheirKey) {
  Sessions sessions("a key of more than thirty-two characters");
  Session s = Sessions::for_user("u1", "Picard");
  exosphere::http::Response res;
  exosphere::http::Request req;
  sessions.remember(res, s, req);
  ASSERT_EQ(res.headers.size(), 1u);
  std::string cookie = res.headers[0].second.substr(0, res.headers[0].second.find(';'));
  EXPECT_NE(res.headers[0].second.find("HttpOnly"), std::string::npos);
  EXPECT_NE(res.headers[0].second.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(res.headers[0].second.find("Secure"), std::string::npos) << "plain HTTP";
  req.headers["cookie"] = cookie;
  Session back = sessions.of(req);
  EXPECT_EQ(back.user_id, "u1");
  EXPECT_EQ(back.name, "Picard");
  EXPECT_FALSE(back.fresh);
  EXPECT_FALSE(back.tampered);
  req.body = "csrf=" + sessions.csrf_token(back);
  req.headers["content-type"] = "application/x-www-form-urlencoded";
  EXPECT_TRUE(sessions.csrf_ok(req, back));
  EXPECT_EQ(sessions.live_user(sessions.live_token(back)), "u1");

  Sessions other("another key of more than thirty-two characters");
  EXPECT_TRUE(other.of(req).tampered) << "a cookie signed with another key";
  EXPECT_FALSE(other.of(req).logged_in());
  EXPECT_FALSE(other.live_user(sessions.live_token(back)));
  // Each kind of token is signed for its purpose: a live token is no session cookie.
  req.headers["cookie"] = std::string(Sessions::kCookie) + "=" + sessions.live_token(back);
  EXPECT_TRUE(sessions.of(req).tampered);
  EXPECT_FALSE(sessions.live_user(cookie.substr(cookie.find('=') + 1)));
  req.headers["cookie"] = cookie;
  req.headers["cookie"] = cookie.substr(0, cookie.size() - 2) + "xx";
  EXPECT_TRUE(sessions.of(req).tampered);
  req.headers["x-forwarded-proto"] = "https";
  exosphere::http::Response secure;
  sessions.remember(secure, Sessions::anonymous(), req);
  EXPECT_NE(secure.headers[0].second.find("; Secure"), std::string::npos);
}

TEST(LoginThrottle, SlowsDownRepeatedTriesOfOneName) {
  LoginThrottle throttle;
  auto t = LoginThrottle::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(throttle.attempt("picard", t), 0);
  EXPECT_EQ(throttle.attempt("picard", t), 1) << "the fourth try waits, even one sent alongside";
  EXPECT_EQ(throttle.attempt("riker", t), 0) << "per name";
  EXPECT_EQ(throttle.attempt("picard", t + std::chrono::seconds(1)), 0);
  EXPECT_EQ(throttle.attempt("picard", t + std::chrono::seconds(1)), 2);
  for (int i = 0; i < 20; ++i) throttle.attempt("picard", t + std::chrono::hours(i + 1));
  EXPECT_EQ(throttle.attempt("picard", t + std::chrono::hours(20)), 60) << "at most a minute";
  throttle.succeeded("picard");
  EXPECT_EQ(throttle.attempt("picard", t + std::chrono::hours(20)), 0);
}
