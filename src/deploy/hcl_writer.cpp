#include "deploy/hcl_writer.hpp"

#include <cctype>

#include "common/json.hpp"
#include "common/text.hpp"

namespace exo::deploy {

namespace {

// `${` and `%{` open templates in HCL strings and heredocs; `$${` and `%%{` are their literal forms.
std::string escape_templates(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] == '$' || text[i] == '%') && i + 1 < text.size() && text[i + 1] == '{') out += text[i];
    out += text[i];
  }
  return out;
}

}  // namespace

std::string hcl_string(std::string_view text) {
  // HCL's string escapes are JSON's (\", \\, \n, \uNNNN, ...), plus the template sequences.
  return escape_templates(to_json(json::value(json::string_view(text.data(), text.size()))));
}

std::string hcl_key(std::string_view name) {
  bool identifier = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  return identifier ? std::string(name) : hcl_string(name);
}

void HclWriter::line(std::string_view text) {
  if (!text.empty()) out_ += std::string(static_cast<size_t>(depth_) * 2, ' ');
  out_ += text;
  out_ += '\n';
}

void HclWriter::flush() {
  size_t width = 0;
  for (const auto& [name, _] : pending_) width = std::max(width, name.size());
  for (const auto& [name, expression] : pending_)
    line(name + std::string(width - name.size(), ' ') + " = " + expression);
  pending_.clear();
}

void HclWriter::comment(std::string_view text) {
  flush();
  line("# " + std::string(text));
}

void HclWriter::blank() {
  flush();
  line("");
}

void HclWriter::open(std::string_view header) {
  flush();
  line(std::string(header) + " {");
  ++depth_;
}

void HclWriter::close() {
  flush();
  --depth_;
  line("}");
}

void HclWriter::attribute(std::string_view name, std::string_view expression) {
  pending_.emplace_back(std::string(name), std::string(expression));
}

void HclWriter::open_object(std::string_view name) {
  flush();
  line(std::string(name) + " = {");
  ++depth_;
}

void HclWriter::close_object() { close(); }

void HclWriter::heredoc(std::string_view name, std::string_view text) {
  flush();
  line(std::string(name) + " = <<-EOT");
  ++depth_;
  for (const auto& l : split_lines(text)) line(escape_templates(l));
  --depth_;
  line("EOT");
}

std::string HclWriter::str() {
  flush();
  return out_;
}

}  // namespace exo::deploy
