#pragma once

#include <string>
#include <string_view>

namespace exo::deploy {

// Writes YAML by hand so output is byte-for-byte deterministic and diffable.
class YamlWriter {
 public:
  void key(int indent, std::string_view k);                        // "k:"
  void entry(int indent, std::string_view k, std::string_view v);  // "k: v"
  void item(int indent, std::string_view v);                       // "- v"
  void comment(std::string_view text);
  void blank() { out_ += '\n'; }
  const std::string& str() const { return out_; }
  // A scalar as YAML would read back the same text: plain when safe, else double-quoted.
  static std::string scalar(std::string_view v);

 private:
  std::string out_;
};

}  // namespace exo::deploy
