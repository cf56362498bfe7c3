// libFuzzer target: ExoCom's hand-written envelope scanner against Boost.JSON. For any bytes, both
// must agree on whether they are JSON; where the scanner accepts a message, every field it reports
// must hold what Boost.JSON reads there; where it refuses JSON that Boost.JSON reads, it must be for
// a rule of the protocol (a duplicate key, a field of the wrong type, too many fields).
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/envelope.hpp"

namespace json = boost::json;
using namespace exo;

namespace {

[[noreturn]] void disagree(const char* what, std::string_view text, const std::string& detail) {
  std::fprintf(stderr, "scanner and Boost.JSON disagree: %s (%s)\ninput: %.*s\n", what, detail.c_str(),
               static_cast<int>(std::min<size_t>(text.size(), 400)), text.data());
  std::abort();
}

// Equal values; doubles within a few units in the last place (Boost.JSON 1.81 rounds a decimal
// number differently depending on what follows it), NaN equal to NaN (0e999 is 0 × ∞).
bool same(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) {
    if (!a.is_number() || !b.is_number()) return false;
    double x = a.to_number<double>(), y = b.to_number<double>();
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    if (x == y) return true;
    return std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return a.is_number() && b.is_number() && a == b;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (!other || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool protocol_rule(const std::string& error) {
  return error == "duplicate key in the message" || error == "too many fields in the message" ||
         error == "a message must be a JSON object" || error.find("' must be ") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json::parse_options options;
  options.max_depth = wire::kMaxDepth;
  boost::system::error_code ec;
  json::value theirs = json::parse(text, ec, {}, options);
  bool boost_ok = !ec;

  std::string error;
  bool ours = wire::valid_json(text, &error);
  if (ours != boost_ok) disagree(ours ? "only the scanner accepts it" : "only Boost.JSON accepts it", text, ours ? ec.message() : error);

  wire::Envelope env;
  error.clear();
  if (!wire::scan(text, env, error)) {
    if (boost_ok && !protocol_rule(error)) disagree("the scanner refuses a valid message", text, error);
    return 0;
  }
  if (!boost_ok || !theirs.is_object()) disagree("the scanner accepts what is not a JSON object", text, ec.message());
  const auto& object = theirs.get_object();
  if (env.fields.size() != object.size()) disagree("a different number of fields", text, std::to_string(env.fields.size()));
  for (const auto& f : env.fields) {
    const json::value* expected = object.if_contains(f.key);
    if (!expected) disagree("a field Boost.JSON does not have", text, std::string(f.key));
    json::value value = json::parse(f.value, ec, {}, options);
    if (ec || !same(value, *expected))
      disagree("a field's value differs", text, std::string(f.key) + " = " + std::string(f.value));
  }
  auto same_text = [&](std::string_view key, std::string_view scanned) {
    const json::value* v = object.if_contains(key);
    std::string_view expected = v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    if (scanned != expected) disagree("a decoded field differs", text, std::string(key));
  };
  same_text("name", env.name);
  same_text("id", env.id);
  same_text("activityId", env.activity_id);
  same_text("sender", env.sender);
  const json::value* security = object.if_contains("isSecurity");
  if (env.is_security != (security && security->is_bool() && security->get_bool()))
    disagree("isSecurity differs", text, "");
  return 0;
}
