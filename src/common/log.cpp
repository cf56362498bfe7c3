#include "common/log.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/text.hpp"

namespace exo {

bool colors_wanted(std::FILE* stream) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return isatty(fileno(stream)) == 1;
}

std::string paint(std::string_view text, Color color, bool enabled, bool bold) {
  if (!enabled || (color == Color::plain && !bold)) return std::string(text);
  std::string code;
  switch (color) {
    case Color::plain: break;
    case Color::red: code = "31"; break;
    case Color::green: code = "32"; break;
    case Color::yellow: code = "33"; break;
    case Color::blue: code = "34"; break;
    case Color::magenta: code = "35"; break;
    case Color::cyan: code = "36"; break;
    case Color::dim: code = "2"; break;
  }
  if (bold) code = code.empty() ? "1" : "1;" + code;
  return "\x1b[" + code + "m" + std::string(text) + "\x1b[0m";
}

namespace {
constexpr Color kRoleColors[] = {Color::blue, Color::cyan, Color::magenta, Color::yellow};
}

Logger::Logger(const std::vector<std::string>& roles, std::FILE* out)
    : out_(out), colored_(colors_wanted(out)) {
  colors_["exocom"] = Color::blue;
  add_roles(roles);
}

void Logger::add_roles(const std::vector<std::string>& roles) {
  std::lock_guard lock(mutex_);
  for (const auto& role : roles) {
    width_ = std::max(width_, role.size());
    if (!colors_.count(role)) colors_[role] = kRoleColors[next_color_++ % std::size(kRoleColors)];
  }
}

Color Logger::color_of(std::string_view role) const {
  auto it = colors_.find(role);
  return it == colors_.end() ? Color::plain : it->second;
}

std::string Logger::prefix(std::string_view role) const {
  std::string p;
  if (role.size() < width_) p.assign(width_ - role.size(), ' ');
  p += role;
  return p;
}

void Logger::write_line(std::FILE* out, const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

void Logger::log(std::string_view role, std::string_view text, Color color) {
  std::lock_guard lock(mutex_);
  Color role_color = color_of(role);
  Color line_color = color == Color::plain ? role_color : color;
  std::string out;
  for (const auto& line : split_lines(text)) {
    out += paint(prefix(role), role_color, colored_, true);
    out += "  ";
    out += paint(line, line_color, colored_);
    out += '\n';
  }
  if (text.empty()) out = paint(prefix(role), role_color, colored_, true) + "  \n";
  write_line(out_, out);
  if (tap_) tap_(role, text);
}

void Logger::error(std::string_view role, std::string_view text) {
  std::lock_guard lock(mutex_);
  bool colored = colors_wanted(stderr);
  std::string out;
  for (const auto& line : split_lines(text))
    out += paint(prefix(role), color_of(role), colored, true) + "  " + paint(line, Color::red, colored) + "\n";
  std::fflush(out_);
  write_line(stderr, out);
  if (tap_) tap_(role, text);
}

void Logger::set_tap(std::function<void(std::string_view, std::string_view)> tap) {
  std::lock_guard lock(mutex_);
  tap_ = std::move(tap);
}

void Logger::raw(std::string_view text, Color color) {
  std::lock_guard lock(mutex_);
  write_line(out_, paint(text, color, colored_) + "\n");
}

}  // namespace exo
