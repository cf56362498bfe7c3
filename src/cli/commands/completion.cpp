// `exo completion bash|zsh|fish`: the scripts ask `exo completion candidates` for the words that
// fit, so every shell completes the same way, from the commands' own help text.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

#include "cli/command.hpp"
#include "cli/dispatcher.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHelp = R"(Usage: exo completion bash|zsh|fish

Prints a script that completes exo's commands, their flags, the roles of the application in the
current folder and the service templates. Load it with
  bash: source <(exo completion bash)      (or save it as ~/.local/share/bash-completion/completions/exo)
  zsh:  source <(exo completion zsh)       (or save it as _exo in a folder of $fpath)
  fish: exo completion fish | source       (or save it as ~/.config/fish/completions/exo.fish)
Installed exo (make install, the Debian package) puts the three where the shells find them.

The scripts call `exo completion candidates <index> <words...>`, which prints the words that fit
at <index> of the command line <words...>, one per line.
)";

constexpr std::string_view kBash = R"SH(# bash completion for exo, printed by `exo completion bash`
_exo() {
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$(exo completion candidates "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _exo exo
)SH";

constexpr std::string_view kZsh = R"SH(#compdef exo
# zsh completion for exo, printed by `exo completion zsh`
_exo() {
  local -a candidates
  candidates=("${(@f)$(exo completion candidates $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
  compadd -a candidates
}
if [[ "${funcstack[1]}" == _exo ]]; then _exo "$@"; else compdef _exo exo; fi
)SH";

constexpr std::string_view kFish = R"SH(# fish completion for exo, printed by `exo completion fish`
function __exo_candidates
    set -l words (commandline -opc) (commandline -ct)
    exo completion candidates (math (count $words) - 1) $words 2>/dev/null
end
complete -c exo -f -a '(__exo_candidates)'
)SH";

// The flags a command's help text names (`--only`, `--port`, ...).
std::vector<std::string> flags_in(std::string_view help) {
  std::set<std::string> flags;
  for (size_t at = help.find("--"); at != std::string_view::npos; at = help.find("--", at + 2)) {
    if (at > 0 && !std::isspace(static_cast<unsigned char>(help[at - 1])) && help[at - 1] != '[' && help[at - 1] != '|') continue;
    size_t end = at + 2;
    while (end < help.size() && (std::isalnum(static_cast<unsigned char>(help[end])) || help[end] == '-')) ++end;
    if (end > at + 2) flags.insert(std::string(help.substr(at, end - at)));
  }
  return {flags.begin(), flags.end()};
}

// The words a usage line puts right after `exo <command>`: `read|create|update|delete`, `terraform`.
std::vector<std::string> keywords_in(std::string_view help, std::string_view command) {
  std::vector<std::string> out;
  std::string lead = "exo " + std::string(command) + " ";
  for (const auto& line : split_lines(help)) {
    auto at = line.find(lead);
    if (at == std::string::npos || !(line.starts_with("Usage: ") || trim(line.substr(0, at)).empty())) continue;
    std::string word = split(line.substr(at + lead.size()), ' ').front();
    if (word.empty() || word[0] == '[' || word[0] == '<' || word[0] == '-') continue;
    for (const auto& w : split(word, '|')) out.push_back(w);
  }
  return out;
}

// The application in the current folder, when there is one (a completion never complains).
std::optional<config::Application> current_application() {
  try {
    config::Warnings ignored;
    return config::load_application(fs::current_path(), ignored);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> roles() {
  auto app = current_application();
  return app ? app->roles() : std::vector<std::string>{};
}

std::vector<std::string> environments() {
  std::vector<std::string> out;
  if (auto app = current_application())
    for (const auto& e : app->environments) out.push_back(e.name);
  return out;
}

std::vector<std::string> templates() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(runner::find_toolchain().source_root / "templates/add-service", ec))
    if (entry.is_directory()) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// What fits at words[index]; words[0] is `exo`.
std::vector<std::string> candidates(size_t index, const std::vector<std::string>& words) {
  if (index == 0) return {};
  if (index == 1) {
    std::vector<std::string> out = {"help"};
    for (const auto& c : commands()) out.emplace_back(c.name);
    return out;
  }
  std::string name = words.size() > 1 ? words[1] : "";
  if (name == "help") return index == 2 ? candidates(1, words) : std::vector<std::string>{};
  const Command* command = nullptr;
  for (const auto& c : commands())
    if (c.name == name) command = &c;
  if (!command) return {};
  // The flag whose value is being written: `--only <here>`, or bash's `--only = <here>`.
  std::string flag = words.size() >= index && index >= 1 ? words[index - 1] : "";
  if (flag == "=" && index >= 2) flag = words[index - 2];
  if (flag == "--only" || flag == "--port") {
    auto out = roles();
    if (flag == "--port")
      for (auto& r : out) r += "=";
    return out;
  }
  if (flag == "--template-name") return templates();
  if (flag == "--protection-level") return {"public", "private"};
  if (flag == "--registry") return {"dockerhub", "ecr"};
  std::vector<std::string> out = flags_in(command->help);
  std::vector<std::string> positional = keywords_in(command->help, command->name);
  bool keyword_given = false;
  for (size_t i = 2; i < index && i < words.size(); ++i)
    keyword_given = keyword_given || std::find(positional.begin(), positional.end(), words[i]) != positional.end();
  if (!keyword_given) out.insert(out.end(), positional.begin(), positional.end());
  if (name == "deploy" || name == "configure")
    for (const auto& e : environments()) out.push_back(e);
  return out;
}

int run_completion(const Args& args) {
  if (args.size() == 1 && args[0] == "bash") return std::fputs(kBash.data(), stdout), 0;
  if (args.size() == 1 && args[0] == "zsh") return std::fputs(kZsh.data(), stdout), 0;
  if (args.size() == 1 && args[0] == "fish") return std::fputs(kFish.data(), stdout), 0;
  if (!args.empty() && args[0] == "candidates") {
    size_t index = 0;
    try {
      index = args.size() > 1 ? std::stoul(args[1]) : 0;
    } catch (const std::exception&) {
      throw UserError("exo completion candidates <index> <words...>: '" + args[1] + "' is not an index");
    }
    std::vector<std::string> words(args.begin() + std::min<size_t>(2, args.size()), args.end());
    for (const auto& c : candidates(index, words)) std::printf("%s\n", c.c_str());
    return 0;
  }
  throw UserError("exo completion takes bash, zsh or fish" +
                  std::string(args.empty() ? "" : ", not '" + join(args, " ") + "'"));
}

}  // namespace

Command completion_command() { return {"completion", "Print a shell completion script", kHelp, run_completion}; }

}  // namespace exo::cli
