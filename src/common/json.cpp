#include "common/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/error.hpp"

namespace exo {

json::value parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) throw UserError(std::string(what) + ": invalid JSON (" + ec.message() + ")");
  return v;
}

std::string to_json(const json::value& v) { return json::serialize(v); }

static void pretty(std::string& out, const json::value& v, int indent, int expand_depth) {
  std::string pad(static_cast<size_t>(indent) * 2, ' ');
  if (indent >= expand_depth) {
    out += json::serialize(v);
  } else if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) { out += "{}"; return; }
    out += "{\n";
    size_t i = 0;
    for (const auto& [k, val] : o) {
      out += pad + "  " + json::serialize(json::value(k)) + ": ";
      pretty(out, val, indent + 1, expand_depth);
      out += ++i < o.size() ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) { out += "[]"; return; }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += pad + "  ";
      pretty(out, a[i], indent + 1, expand_depth);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += pad + "]";
  } else {
    out += json::serialize(v);
  }
}

std::string to_pretty_json(const json::value& v, int expand_depth) {
  std::string out;
  pretty(out, v, 0, expand_depth);
  return out + "\n";
}

std::string string_at(const json::object& obj, std::string_view key, std::string_view fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string()) return std::string(fallback);
  return std::string(it->value().get_string());
}

}  // namespace exo
