#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace exo::deploy {

// Writes YAML through yaml-cpp's emitter, deterministically. Every value is a double-quoted
// string, so `0x1F`, `.inf`, `on` or `012` read back as the text written, never as a number or a
// boolean; keys are plain only when no reader could take them for anything but a string.
class YamlWriter {
 public:
  YamlWriter();
  ~YamlWriter();
  YamlWriter(const YamlWriter&) = delete;
  YamlWriter& operator=(const YamlWriter&) = delete;

  void comment(std::string_view text);  // a line before the document
  void begin_map();
  void end_map();
  void begin_list();
  void end_list();
  void key(std::string_view k);            // then a value, a map or a list
  void value(std::string_view v);          // a string scalar
  void entry(std::string_view k, std::string_view v) { key(k), value(v); }
  std::string str() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::deploy
