#include "config/yaml_reader.hpp"

#include <set>

#include <yaml-cpp/yaml.h>

namespace exo::config {

std::string Location::str() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (!key.empty()) out += ": " + key;
  return out;
}

struct YamlNode::Impl {
  YAML::Node node;
  int key_line = 0;       // for map values: the line of their key, where a reader looks
  int fallback_line = 0;  // the parent's line, for keys that are absent
};

YamlNode::YamlNode(std::unique_ptr<Impl> impl, std::string file, std::string path)
    : impl_(std::move(impl)), file_(std::move(file)), path_(std::move(path)) {}
YamlNode::YamlNode(const YamlNode& o) : impl_(std::make_unique<Impl>(*o.impl_)), file_(o.file_), path_(o.path_) {}
YamlNode& YamlNode::operator=(const YamlNode& o) {
  impl_ = std::make_unique<Impl>(*o.impl_);
  file_ = o.file_;
  path_ = o.path_;
  return *this;
}
YamlNode::~YamlNode() = default;

YamlNode YamlNode::parse(const std::string& text, const std::string& file) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->node = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError({file, e.mark.line + 1, ""}, "invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError({file, e.mark.line >= 0 ? e.mark.line + 1 : 0, ""}, "invalid YAML: " + e.msg);
  }
  impl->fallback_line = 1;
  return YamlNode(std::move(impl), file, "");
}

bool YamlNode::is_null() const { return !impl_->node.IsDefined() || impl_->node.IsNull(); }
bool YamlNode::is_map() const { return impl_->node.IsDefined() && impl_->node.IsMap(); }
bool YamlNode::is_list() const { return impl_->node.IsDefined() && impl_->node.IsSequence(); }
bool YamlNode::is_scalar() const { return impl_->node.IsDefined() && impl_->node.IsScalar(); }

int YamlNode::line() const {
  if (impl_->key_line > 0) return impl_->key_line;
  if (impl_->node.IsDefined()) {
    auto mark = impl_->node.Mark();
    if (mark.line >= 0) return mark.line + 1;
  }
  return impl_->fallback_line;
}

Location YamlNode::where() const { return {file_, line(), path_}; }

std::string YamlNode::kind() const {
  if (is_null()) return "nothing";
  if (is_map()) return "a map";
  if (is_list()) return "a list";
  return "a text value";
}

void YamlNode::fail(const std::string& message) const { throw ConfigError(where(), message); }

void YamlNode::expect_map() const {
  if (!is_null() && !is_map()) fail("expected a map of keys, found " + kind());
}

static std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::vector<std::pair<std::string, YamlNode>> YamlNode::entries() const {
  std::vector<std::pair<std::string, YamlNode>> out;
  if (is_null()) return out;
  expect_map();
  std::set<std::string> seen;
  for (const auto& kv : impl_->node) {
    if (!kv.first.IsScalar()) {
      int line = kv.first.Mark().line + 1;
      throw ConfigError({file_, line, path_}, "keys must be plain text, found a map or list as a key");
    }
    auto key = kv.first.Scalar();
    auto impl = std::make_unique<Impl>();
    impl->node = kv.second;
    impl->fallback_line = kv.first.Mark().line + 1;
    impl->key_line = impl->fallback_line;
    if (!seen.insert(key).second)
      throw ConfigError({file_, impl->fallback_line, child_path(path_, key)}, "duplicate key; each key may appear once");
    out.emplace_back(key, YamlNode(std::move(impl), file_, child_path(path_, key)));
  }
  return out;
}

YamlNode YamlNode::get(std::string_view key) const {
  if (is_map()) {
    for (auto& [k, v] : entries())
      if (k == key) return v;
  } else {
    expect_map();
  }
  auto impl = std::make_unique<Impl>();
  impl->fallback_line = line();
  return YamlNode(std::move(impl), file_, child_path(path_, std::string(key)));
}

bool YamlNode::has(std::string_view key) const {
  if (!is_map()) return false;
  for (const auto& kv : impl_->node)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  return false;
}

void YamlNode::warn_unknown(std::initializer_list<std::string_view> known, Warnings& warnings) const {
  for (const auto& [key, value] : entries()) {
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (ok) continue;
    std::string expected;
    for (auto k : known) expected += (expected.empty() ? "" : ", ") + std::string(k);
    warnings.add({file_, value.impl_->fallback_line, value.path()}, "unknown key, ignored (known keys here: " + expected + ")");
  }
}

std::vector<YamlNode> YamlNode::items() const {
  std::vector<YamlNode> out;
  if (is_null()) return out;
  if (!is_list()) fail("expected a list, found " + kind());
  size_t i = 0;
  for (const auto& item : impl_->node) {
    auto impl = std::make_unique<Impl>();
    const YAML::Node& value = item;
    impl->node = value;
    impl->fallback_line = line();
    out.emplace_back(YamlNode(std::move(impl), file_, path_ + "[" + std::to_string(i++) + "]"));
  }
  return out;
}

std::string YamlNode::text(std::string_view fallback) const {
  if (is_null()) return std::string(fallback);
  if (!is_scalar()) fail("expected a text value, found " + kind());
  return impl_->node.Scalar();
}

std::string YamlNode::required_text() const {
  if (is_null()) fail("is required but missing");
  std::string t = text();
  if (t.empty()) fail("must not be empty");
  return t;
}

std::optional<long> YamlNode::integer() const {
  if (is_null()) return std::nullopt;
  std::string t = text();
  try {
    size_t used = 0;
    long v = std::stol(t, &used);
    if (used == t.size()) return v;
  } catch (const std::exception&) {
  }
  fail("expected a whole number, found '" + t + "'");
}

std::optional<bool> YamlNode::boolean() const {
  if (is_null()) return std::nullopt;
  std::string t = text();
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  fail("expected true or false, found '" + t + "'");
}

std::vector<std::string> YamlNode::text_list() const {
  std::vector<std::string> out;
  if (is_null()) return out;
  if (is_scalar()) return {text()};
  for (const auto& item : items()) {
    if (!item.is_scalar()) item.fail("expected a text value, found " + item.kind());
    out.push_back(item.text());
  }
  return out;
}

}  // namespace exo::config
