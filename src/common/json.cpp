#include "common/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <vector>

#include "common/error.hpp"

namespace exo {

json::value parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) throw UserError(std::string(what) + ": invalid JSON (" + ec.message() + ")");
  return v;
}

std::string to_json(const json::value& v) { return json::serialize(v); }

int json_depth(const json::value& v) {
  // Iterative: a value built in code has no nesting limit, and recursion could overflow the stack.
  int deepest = 0;
  std::vector<std::pair<const json::value*, int>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [x, depth] = todo.back();
    todo.pop_back();
    if (const auto* o = x->if_object()) {
      deepest = std::max(deepest, depth + 1);
      for (const auto& kv : *o) todo.emplace_back(&kv.value(), depth + 1);
    } else if (const auto* a = x->if_array()) {
      deepest = std::max(deepest, depth + 1);
      for (const auto& item : *a) todo.emplace_back(&item, depth + 1);
    }
  }
  return deepest;
}

bool parse_json_limited(std::string_view text, int max_depth, json::value& out, std::string& error) {
  json::parse_options options;
  options.max_depth = static_cast<std::size_t>(max_depth);
  boost::system::error_code ec;
  out = json::parse(text, ec, {}, options);
  if (ec) {
    error = ec.message();
    return false;
  }
  return true;
}

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
