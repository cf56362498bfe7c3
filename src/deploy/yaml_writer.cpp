#include "deploy/yaml_writer.hpp"

#include <yaml-cpp/yaml.h>

#include "common/error.hpp"

namespace exo::deploy {

namespace {
// Plain only what YAML 1.1 and 1.2 readers both take as this very string.
bool plain_key(std::string_view k) {
  if (k.empty()) return false;
  static constexpr std::string_view kWords[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"};
  std::string lower;
  for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto w : kWords)
    if (lower == w) return false;
  if (!std::isalpha(static_cast<unsigned char>(k.front())) && k.front() != '_') return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return true;
}
}  // namespace

struct YamlWriter::Impl {
  std::string comments;
  YAML::Emitter out;
};

YamlWriter::YamlWriter() : impl_(std::make_unique<Impl>()) {
  impl_->out.SetIndent(2);
  impl_->out.SetSeqFormat(YAML::Block);
  impl_->out.SetMapFormat(YAML::Block);
}
YamlWriter::~YamlWriter() = default;

void YamlWriter::comment(std::string_view text) { impl_->comments += "# " + std::string(text) + "\n"; }
void YamlWriter::begin_map() { impl_->out << YAML::BeginMap; }
void YamlWriter::end_map() { impl_->out << YAML::EndMap; }
void YamlWriter::begin_list() { impl_->out << YAML::BeginSeq; }
void YamlWriter::end_list() { impl_->out << YAML::EndSeq; }

void YamlWriter::key(std::string_view k) {
  impl_->out << YAML::Key;
  if (!plain_key(k)) impl_->out << YAML::DoubleQuoted;
  impl_->out << std::string(k) << YAML::Value;
}

void YamlWriter::value(std::string_view v) { impl_->out << YAML::DoubleQuoted << std::string(v); }

std::string YamlWriter::str() const {
  if (!impl_->out.good()) bug(("YAML emitter: " + impl_->out.GetLastError()).c_str(), __FILE__, __LINE__);
  return impl_->comments + impl_->out.c_str() + "\n";
}

}  // namespace exo::deploy
