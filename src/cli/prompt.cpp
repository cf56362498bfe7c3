#include "cli/prompt.hpp"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/error.hpp"
#include "common/text.hpp"

namespace exo::cli {

namespace {
bool read_line(std::string& line) {
  std::fflush(stdout);
  if (!std::getline(std::cin, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}
}  // namespace

std::string Prompt::ask(const std::string& question, const std::string& flag, const std::string& default_value,
                        bool required) {
  while (true) {
    std::printf("%s%s ", question.c_str(), default_value.empty() ? "" : (" (" + default_value + ")").c_str());
    std::string line;
    if (!read_line(line)) {
      std::printf("\n");
      if (!default_value.empty()) return default_value;
      if (!required) return "";
      throw UserError("no answer to '" + question + "'; answer it or pass " + flag);
    }
    std::string answer(trim(line));
    if (answer.empty()) answer = default_value;
    if (!answer.empty() || !required) return answer;
    std::printf("This one is required.\n");
  }
}

std::string Prompt::choose(const std::string& question, const std::string& flag, const std::vector<std::string>& choices) {
  std::printf("%s\n", question.c_str());
  for (size_t i = 0; i < choices.size(); ++i) std::printf("  %zu) %s\n", i + 1, choices[i].c_str());
  while (true) {
    std::printf("Choose 1-%zu (Enter for %s): ", choices.size(), choices.front().c_str());
    std::string line;
    if (!read_line(line)) {
      std::printf("\n");
      throw UserError("no answer to '" + question + "'; answer it or pass " + flag);
    }
    std::string answer(trim(line));
    if (answer.empty()) return choices.front();
    for (size_t i = 0; i < choices.size(); ++i)
      if (answer == choices[i] || answer == std::to_string(i + 1)) return choices[i];
    std::printf("'%s' is not one of the choices.\n", answer.c_str());
  }
}

bool Prompt::confirm(const std::string& question, const std::string& flag) {
  std::printf("%s [y/N] ", question.c_str());
  std::string line;
  if (!read_line(line)) {
    std::printf("\n");
    throw UserError("no answer to '" + question + "'; answer it or pass " + flag);
  }
  std::string answer = to_lower(trim(line));
  return answer == "y" || answer == "yes";
}

namespace {
// The terminal's settings while a secret is typed: a signal that ends exo meanwhile (Ctrl-C) puts
// them back first, so the shell is not left without echo.
termios g_saved_terminal;
volatile sig_atomic_t g_echo_off = 0;

void restore_terminal_and_die(int sig) {
  if (g_echo_off) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

std::string Prompt::ask_secret(const std::string& question) {
  bool terminal = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_saved_terminal) == 0;
  struct sigaction restore{}, previous[3];
  const int signals[3] = {SIGINT, SIGTERM, SIGHUP};
  if (terminal) {
    restore.sa_handler = restore_terminal_and_die;
    sigemptyset(&restore.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(signals[i], &restore, &previous[i]);
    termios quiet = g_saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    g_echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::printf("%s ", question.c_str());
  std::string line;
  bool ok = read_line(line);
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);
    g_echo_off = 0;
    for (int i = 0; i < 3; ++i) sigaction(signals[i], &previous[i], nullptr);
    std::printf("\n");
  }
  if (!ok) throw UserError("no answer to '" + question + "'");
  if (line.empty()) throw UserError("'" + question + "' needs a value; secrets may not be empty");
  return line;
}

}  // namespace exo::cli
