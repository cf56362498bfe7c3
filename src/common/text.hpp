#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace exo {

std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::vector<std::string> split_lines(std::string_view s);  // drops one trailing empty line
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// `users-service` -> `USERS_SERVICE`: the form environment variable names take.
std::string env_name(std::string_view s);
// Shell-style glob on '/'-separated paths: `*` stays within a segment, `**` spans segments, `?` one char.
bool glob_match(std::string_view pattern, std::string_view path);
// Every occurrence of `from` replaced by `to`.
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// Quotes a string for the POSIX shell when it needs it.
std::string shell_quote(std::string_view s);
// The value of `key` in a URL query (`a=1&token=x`), as written; empty when absent.
std::string_view query_value(std::string_view query, std::string_view key);

}  // namespace exo
