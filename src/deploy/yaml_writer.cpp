#include "deploy/yaml_writer.hpp"

#include <cctype>

#include "common/envelope.hpp"
#include "common/text.hpp"

namespace exo::deploy {

std::string YamlWriter::scalar(std::string_view v) {
  bool plain = !v.empty();
  if (plain) {
    static constexpr std::string_view kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"};
    std::string lower = to_lower(v);
    for (auto w : kWords) plain = plain && lower != w;
    bool numeric = true;
    for (char c : v) numeric = numeric && (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E');
    plain = plain && !numeric;
    if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(v.front()) != std::string_view::npos) plain = false;
    if (v.front() == ' ' || v.back() == ' ') plain = false;
    for (size_t i = 0; i < v.size(); ++i) {
      char c = v[i];
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') plain = false;
      if (c == ':' && (i + 1 == v.size() || v[i + 1] == ' ')) plain = false;
      if (c == '#' && i > 0 && v[i - 1] == ' ') plain = false;
      if (c == '$') plain = false;  // compose interpolates $; quoting keeps the intent visible
    }
  }
  if (plain) return std::string(v);
  std::string out;
  wire::append_json_string(out, v);  // JSON strings are valid double-quoted YAML scalars
  return out;
}

void YamlWriter::key(int indent, std::string_view k) {
  out_ += std::string(static_cast<size_t>(indent), ' ') + scalar(k) + ":\n";
}

void YamlWriter::entry(int indent, std::string_view k, std::string_view v) {
  out_ += std::string(static_cast<size_t>(indent), ' ') + scalar(k) + ": " + scalar(v) + "\n";
}

void YamlWriter::item(int indent, std::string_view v) {
  out_ += std::string(static_cast<size_t>(indent), ' ') + "- " + scalar(v) + "\n";
}

void YamlWriter::comment(std::string_view text) { out_ += "# " + std::string(text) + "\n"; }

}  // namespace exo::deploy
