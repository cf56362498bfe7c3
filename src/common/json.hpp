#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace exo {

namespace json = boost::json;

// Parses JSON text; throws UserError "<what>: invalid JSON (<reason>)".
json::value parse_json(std::string_view text, std::string_view what);
std::string to_json(const json::value& v);
// A JSON document indented by two spaces, keys in insertion order, with a final newline. Values
// nested deeper than `expand_depth` stay on one line.
std::string to_pretty_json(const json::value& v, int expand_depth = 1 << 30);
// How deeply `v` nests objects and arrays: 0 for a scalar, 1 for {} or [1], 2 for [[1]].
int json_depth(const json::value& v);
// Parses JSON text allowing `max_depth` levels of nesting; false (and `error`) when it is not valid.
bool parse_json_limited(std::string_view text, int max_depth, json::value& out, std::string& error);
// The string at `key`, or `fallback` when absent or not a string.
std::string string_at(const json::object& obj, std::string_view key, std::string_view fallback = {});

}  // namespace exo
