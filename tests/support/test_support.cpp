#include "support/test_support.hpp"

#include "common/text.hpp"

namespace exo::test {

std::string dedent(std::string_view text) {
  if (!text.empty() && text[0] == '\n') text.remove_prefix(1);
  size_t indent = 0;
  while (indent < text.size() && text[indent] == ' ') ++indent;
  std::string out;
  for (const auto& line : split(text, '\n')) {
    size_t strip = 0;
    while (strip < indent && strip < line.size() && line[strip] == ' ') ++strip;
    out += line.substr(strip) + "\n";
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

void Sandbox::write(const fs::path& rel, std::string_view content) const {
  write_file(path() / rel, dedent(content));
}

std::string Sandbox::read(const fs::path& rel) const { return read_file(path() / rel); }

RunResult run_exo(const std::vector<std::string>& args, const fs::path& cwd, std::string_view input,
                  std::map<std::string, std::string> env) {
  SpawnOptions o;
  o.argv = {EXO_BINARY};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.cwd = cwd;
  env.emplace("NO_COLOR", "1");
  o.env = std::move(env);
  return run_captured(o, input, std::chrono::seconds(120));
}

}  // namespace exo::test
