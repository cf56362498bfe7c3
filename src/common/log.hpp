#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace exo {

enum class Color { plain, red, green, yellow, blue, magenta, cyan, dim };

// True when `stream` is a terminal and neither NO_COLOR nor TERM=dumb asks for plain text.
bool colors_wanted(std::FILE* stream);
// Wraps text in the ANSI sequence for `color` when `enabled`.
std::string paint(std::string_view text, Color color, bool enabled, bool bold = false);

// The one log format of every `exo` command: the role right-aligned to the widest known role
// (at least 10 columns), two spaces, then the line. Each line is written whole, so output from
// many threads never interleaves within a line.
class Logger {
 public:
  explicit Logger(const std::vector<std::string>& roles = {}, std::FILE* out = stdout);

  // Adds roles (widening the prefix column); each new service role gets the next colour.
  void add_roles(const std::vector<std::string>& roles);
  // Logs every line of `text` under `role`.
  void log(std::string_view role, std::string_view text, Color color = Color::plain);
  void error(std::string_view role, std::string_view text);
  // A line without a role prefix (headers, blank lines).
  void raw(std::string_view text, Color color = Color::plain);
  size_t width() const { return width_; }
  std::string prefix(std::string_view role) const;
  bool colored() const { return colored_; }
  // Every line logged (role, text) also goes to `tap` (the dashboard), or to nobody when empty.
  void set_tap(std::function<void(std::string_view role, std::string_view text)> tap);

 private:
  Color color_of(std::string_view role) const;
  void write_line(std::FILE* out, const std::string& line);

  std::FILE* out_;
  bool colored_;
  size_t width_ = 10;
  std::map<std::string, Color, std::less<>> colors_;
  size_t next_color_ = 0;
  std::mutex mutex_;
  std::function<void(std::string_view, std::string_view)> tap_;
};

}  // namespace exo
