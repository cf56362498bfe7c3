#include "cli/scaffold.hpp"

#include <algorithm>

#include <kainjow/mustache.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

std::string render_text(const std::string& text, const TemplateData& data) {
  kainjow::mustache::mustache tmpl(text);
  if (!tmpl.is_valid()) throw UserError("template error: " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });  // templates write code, not HTML
  kainjow::mustache::data d;
  for (const auto& [k, v] : data) d.set(k, v);
  return tmpl.render(d);
}

std::vector<fs::path> render_template(const fs::path& source, const fs::path& destination, const TemplateData& data) {
  std::vector<fs::path> written;
  std::error_code ec;
  fs::create_directories(destination, ec);
  if (ec) throw UserError(display_path(destination) + ": cannot create (" + ec.message() + ")");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(source, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) files.push_back(it->path());
  if (ec) throw UserError(display_path(source) + ": cannot read the template (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    fs::path rel = file.lexically_relative(source);
    fs::path target = destination / render_text(rel.string(), data);
    std::string content = read_file(file);
    bool binary = content.find('\0') != std::string::npos;
    write_file(target, binary ? content : render_text(content, data));
    fs::permissions(target, fs::status(file).permissions(), ec);  // executable bits stay
    written.push_back(target);
  }
  return written;
}

std::map<std::string, fs::path> service_templates(const fs::path& app_root) {
  std::map<std::string, fs::path> out;
  for (const fs::path& dir : {runner::find_toolchain().source_root / "templates/add-service",
                              app_root / ".exosphere/templates/add-service"}) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory()) out[it->path().filename().string()] = it->path();
  }
  return out;
}

namespace {

size_t indent_of(const std::string& line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool meaningful(const std::string& line) {
  auto t = trim(line);
  return !t.empty() && t[0] != '#';
}

// The key of a "key:" or "key: value" line, or empty.
std::string key_of(const std::string& line) {
  auto t = std::string(trim(line));
  auto colon = t.find(':');
  if (colon == std::string::npos || t[0] == '-' || t[0] == '#') return "";
  return t.substr(0, colon);
}

// Index just past the block that starts at `start` (lines indented deeper than `indent`).
size_t block_end(const std::vector<std::string>& lines, size_t start, size_t indent) {
  size_t end = start + 1;
  size_t last = start + 1;
  for (; end < lines.size(); ++end) {
    if (!meaningful(lines[end])) continue;
    if (indent_of(lines[end]) <= indent) break;
    last = end + 1;
  }
  return last;
}

}  // namespace

std::string insert_service(const std::string& yaml, const std::string& level, const std::string& role,
                           const std::string& location) {
  std::vector<std::string> lines = split(yaml, '\n');
  bool trailing_newline = !yaml.empty() && yaml.back() == '\n';
  if (trailing_newline) lines.pop_back();
  auto entry = [&](size_t indent) {
    return std::vector<std::string>{std::string(indent, ' ') + role + ":",
                                    std::string(indent + 2, ' ') + "location: " + location};
  };
  // services:
  size_t services = lines.size();
  for (size_t i = 0; i < lines.size(); ++i)
    if (indent_of(lines[i]) == 0 && key_of(lines[i]) == "services") services = i;
  if (services == lines.size()) {
    lines.push_back("services:");
    services = lines.size() - 1;
  }
  // A flow value ("services: {}") becomes a block.
  if (std::string(trim(lines[services])) != "services:") lines[services] = "services:";
  size_t services_end = block_end(lines, services, 0);
  size_t level_indent = 2;
  size_t level_line = lines.size();
  for (size_t i = services + 1; i < services_end; ++i) {
    if (!meaningful(lines[i])) continue;
    if (level_line == lines.size()) level_indent = indent_of(lines[i]);
    if (indent_of(lines[i]) == level_indent && key_of(lines[i]) == level) level_line = i;
  }
  if (level_line == lines.size()) {
    auto block = entry(level_indent * 2);
    block.insert(block.begin(), std::string(level_indent, ' ') + level + ":");
    lines.insert(lines.begin() + static_cast<long>(services_end), block.begin(), block.end());
  } else {
    if (std::string(trim(lines[level_line])) != level + ":") lines[level_line] = std::string(level_indent, ' ') + level + ":";
    size_t level_end = block_end(lines, level_line, level_indent);
    size_t role_indent = level_indent * 2;
    size_t insert_at = level_end;
    bool first = true;
    for (size_t i = level_line + 1; i < level_end; ++i) {
      if (!meaningful(lines[i])) continue;
      if (first) role_indent = indent_of(lines[i]);
      first = false;
      if (indent_of(lines[i]) != role_indent) continue;
      if (key_of(lines[i]) > role) {
        insert_at = i;
        // Comments right above the next role belong to it.
        while (insert_at > level_line + 1 && std::string(trim(lines[insert_at - 1])).rfind('#', 0) == 0) --insert_at;
        break;
      }
    }
    auto block = entry(role_indent);
    lines.insert(lines.begin() + static_cast<long>(insert_at), block.begin(), block.end());
  }
  std::string out = join(lines, "\n");
  return trailing_newline ? out + "\n" : out;
}

}  // namespace exo::cli
