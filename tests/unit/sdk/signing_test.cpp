// Signed tokens and cookies: what a web service hands a browser and checks when it comes back.
#include <gtest/gtest.h>

#include "exosphere/http.hpp"
#include "exosphere/signing.hpp"
#include "exosphere/status.hpp"

using namespace exosphere;

namespace {
const std::string kKey = "0123456789abcdef0123456789abcdef";
}

TEST(Signer, RecognisesOnlyWhatItSigned) {
  Signer signer(kKey);
  std::string token = signer.sign("user-42");
  EXPECT_EQ(signer.verify(token), "user-42");
  EXPECT_FALSE(signer.verify("user-43" + token.substr(token.find('.'))));  // another text, same MAC
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(signer.verify(flipped));
  EXPECT_FALSE(signer.verify("user-42"));
  EXPECT_FALSE(signer.verify(""));
  EXPECT_FALSE(Signer(kKey + "x").verify(token)) << "another key";
  EXPECT_TRUE(signer.same_mac("csrf", signer.mac("csrf")));
  EXPECT_FALSE(signer.same_mac("csrf", signer.mac("csrf2")));
}

TEST(Signer, RefusesShortKeysAndDotsInText) {
  EXPECT_THROW(Signer("short"), Error);
  EXPECT_THROW(Signer(kKey).sign("a.b"), Error);
}

TEST(Signer, Base64urlRoundTrips) {
  std::string bytes("\0\xff\x10 hello/+", 11);
  std::string text = base64url(bytes);
  EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  EXPECT_EQ(from_base64url(text), bytes);
  EXPECT_FALSE(from_base64url("not base64!"));
  EXPECT_NE(random_token(), random_token());
  EXPECT_EQ(random_token(24).size(), 32u);
}

TEST(HttpCookies, ReadFromTheCookieHeader) {
  http::Request req;
  req.headers["cookie"] = "a=1; session=abc.def;other=\"quoted\"";
  EXPECT_EQ(req.cookie("session"), "abc.def");
  EXPECT_EQ(req.cookie("a"), "1");
  EXPECT_EQ(req.cookie("other"), "quoted");
  EXPECT_EQ(req.cookie("sess"), "");
  EXPECT_EQ(http::Request{}.cookie("a"), "");
}

TEST(HttpCookies, SetCookieCarriesItsAttributes) {
  auto res = http::Response::redirect("/");
  res.set_cookie({.name = "s", .value = "v", .max_age = std::chrono::seconds(60), .secure = true});
  res.set_cookie({.name = "gone", .value = "", .max_age = std::chrono::seconds(0), .http_only = false, .same_site = ""});
  ASSERT_EQ(res.headers.size(), 3u);
  EXPECT_EQ(res.headers[1], (std::pair<std::string, std::string>{"Set-Cookie", "s=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"}));
  EXPECT_EQ(res.headers[2].second, "gone=; Path=/; Max-Age=0");
}
