#pragma once

#include <functional>
#include <memory>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"

namespace YAML { class Node; }

namespace exo::config {

// A read-only view of one YAML node that knows where it is, so every error names file, line and
// key path. yaml-cpp stays behind this interface (one translation unit parses YAML).
class YamlNode {
 public:
  // Parses `text`; a syntax error becomes a ConfigError at the offending line.
  static YamlNode parse(const std::string& text, const std::string& file);
  YamlNode(const YamlNode&);
  YamlNode& operator=(const YamlNode&);
  ~YamlNode();

  bool is_null() const;  // absent or `key:` with no value
  bool is_map() const;
  bool is_list() const;
  bool is_scalar() const;
  int line() const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  Location where() const;
  std::string kind() const;  // "a map", "a list", "a text value", "nothing"

  // Map access. Duplicate keys are an error; `get` of a missing key yields a null node.
  std::vector<std::pair<std::string, YamlNode>> entries() const;  // in file order
  YamlNode get(std::string_view key) const;
  bool has(std::string_view key) const;
  // Warns about every key not in `known`.
  void warn_unknown(std::initializer_list<std::string_view> known, Warnings& warnings) const;
  // Fails when this node is present but not a map (null is accepted as empty).
  void expect_map() const;

  // List access (null is an empty list).
  std::vector<YamlNode> items() const;

  // Scalars. `text` fails on maps and lists; null becomes `fallback`.
  std::string text(std::string_view fallback = {}) const;
  std::string required_text() const;  // fails when null or empty
  std::optional<long> integer() const;  // fails when not an integer
  std::optional<bool> boolean() const;
  // A list of text values; a single text value is accepted as a list of one.
  std::vector<std::string> text_list() const;

  [[noreturn]] void fail(const std::string& message) const;

 private:
  struct Impl;
  YamlNode(std::unique_ptr<Impl> impl, std::string file, std::string path);
  std::unique_ptr<Impl> impl_;
  std::string file_;
  std::string path_;
};

}  // namespace exo::config
