#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/envelope.hpp"

using namespace exo;
namespace json = boost::json;

namespace {
wire::Envelope scanned(std::string_view text) {
  wire::Envelope env;
  std::string error;
  EXPECT_TRUE(wire::scan(text, env, error)) << error;
  return env;
}
std::string error_of(std::string_view text) {
  wire::Envelope env;
  std::string error;
  return wire::scan(text, env, error) ? "(ok)" : error;
}
}  // namespace

TEST(Envelope, ReadsTheKnownFields) {
  std::string text = R"({"name":"users.create","sender":"web","id":"i1","activityId":"a1","payload":{"n":[1,2]},"auth":null,"isSecurity":true})";
  auto env = scanned(text);
  EXPECT_EQ(env.name, "users.create");
  EXPECT_EQ(env.sender, "web");
  EXPECT_EQ(env.id, "i1");
  EXPECT_EQ(env.activity_id, "a1");
  ASSERT_NE(env.payload, nullptr);
  EXPECT_EQ(env.payload->value, R"({"n":[1,2]})");
  EXPECT_EQ(env.auth->value, "null");
  EXPECT_TRUE(env.is_security);
}

TEST(Envelope, DecodesEscapes) {
  auto env = scanned(R"({"name":"a\"b\u00e9\ud83d\ude00","sender":"w\\x"})");
  EXPECT_EQ(env.name, "a\"b\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(env.sender, "w\\x");
}

TEST(Envelope, RejectsInvalidJson) {
  for (const char* bad : {"", "{", "{\"name\":}", "{\"a\":1,}", "{\"a\" 1}", "[1]", "{\"a\":01}", "{\"a\":1.}",
                          "{\"a\":-}", "{\"a\":tru}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}",
                          "{} x", "{\"a\":1e}", "{\"a\":[1 2]}"})
    EXPECT_NE(error_of(bad), "(ok)") << bad;
  EXPECT_EQ(error_of("{\"a\":\"\xff\"}"), "invalid UTF-8");
  EXPECT_EQ(error_of("{\"a\":\"\xc0\x80\"}"), "invalid UTF-8");  // overlong
  EXPECT_EQ(error_of("{\"a\":\"\xed\xa0\x80\"}"), "invalid UTF-8");  // surrogate
}

TEST(Envelope, RejectsWrongTypesOfKnownFields) {
  EXPECT_EQ(error_of(R"({"name":1})"), "'name' must be text");
  EXPECT_EQ(error_of(R"({"name":"x","id":2})"), "'id' must be text");
  EXPECT_EQ(error_of(R"({"name":"x","isSecurity":"yes"})"), "'isSecurity' must be true or false");
  EXPECT_EQ(error_of(R"({"name":"x","name":"y"})"), "duplicate key in the message");
}

TEST(Envelope, DepthIsLimited) {
  EXPECT_EQ(error_of("{\"p\":" + std::string(100, '[') + std::string(100, ']') + "}"), "JSON nested more than 64 levels deep");
  // 64 levels with the envelope pass; 65 do not.
  EXPECT_EQ(error_of("{\"p\":" + std::string(63, '[') + std::string(63, ']') + "}"), "(ok)");
  EXPECT_EQ(error_of("{\"p\":" + std::string(64, '[') + std::string(64, ']') + "}"), "JSON nested more than 64 levels deep");
  EXPECT_EQ(error_of("{\"p\":" + std::string(50, '[') + std::string(50, ']') + "}"), "(ok)");
}

TEST(Envelope, AcceptsWhatBoostJsonAccepts) {
  for (const char* good : {R"({"a":-0.5e+10})", R"({"a":[{},[],"",0,true,false,null]})", " { \"a\" : 1 } ",
                           R"({"a":"\/\b\f\n\r\t"})"}) {
    EXPECT_EQ(error_of(good), "(ok)") << good;
    boost::system::error_code ec;
    json::parse(good, ec);
    EXPECT_FALSE(ec) << good;
  }
}

TEST(Envelope, DeliveryRewritesOwnedFieldsAndKeepsTheRest) {
  auto env = scanned(R"({"name":"users.create","sender":"web","id":"i1","activityId":"a1","timestamp":"0001","responseTime":0,"payload":{"x":1},"responseTo":"r"})");
  std::string out;
  wire::write_delivery(out, env, {"\"mongo.create\"", "\"web\"", "\"unused\"", "2017-12-08T18:01:02.123456789Z", 1500});
  auto v = json::parse(out).as_object();
  EXPECT_EQ(v.at("name"), "mongo.create");
  EXPECT_EQ(v.at("id"), "i1");
  EXPECT_EQ(v.at("activityId"), "a1");
  EXPECT_EQ(v.at("sender"), "web");
  EXPECT_EQ(v.at("timestamp"), "2017-12-08T18:01:02.123456789Z");
  EXPECT_EQ(v.at("responseTime"), 1500);
  EXPECT_EQ(json::serialize(v.at("payload")), R"({"x":1})");
  EXPECT_EQ(v.at("responseTo"), "r");
  EXPECT_EQ(v.size(), 8u);
}

TEST(Envelope, DeliveryFillsAMissingId) {
  auto env = scanned(R"({"name":"x"})");
  std::string out;
  wire::write_delivery(out, env, {"\"x\"", "\"web\"", "\"generated\"", "t", 0});
  auto v = json::parse(out).as_object();
  EXPECT_EQ(v.at("id"), "generated");
  EXPECT_FALSE(v.contains("responseTime"));
  EXPECT_FALSE(v.contains("activityId"));
}

TEST(Envelope, JsonStringEscaping) {
  std::string out;
  wire::append_json_string(out, "a\"\\\n\x01z");
  EXPECT_EQ(out, R"("a\"\\\n\u0001z")");
}

// Exponents beyond 32 bits: Boost.JSON (the SDK's parser) refuses them, so ExoCom refuses them too
// (found by fuzz/envelope_vs_json); everything a receiver gets, it can read.
TEST(Envelope, NumbersEveryClientCanRead) {
  EXPECT_EQ(error_of(R"({"p":1e2147483647})"), "(ok)");
  EXPECT_EQ(error_of(R"({"p":1e-2147483647})"), "(ok)");
  EXPECT_EQ(error_of(R"({"p":1e2147483648})"), "number exponent out of range");
  EXPECT_EQ(error_of(R"({"p":[0.5E+99999999999]})"), "number exponent out of range");
}
