#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace exo {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::filesystem::path cwd;                  // empty: the current directory
  std::map<std::string, std::string> env;     // added to (or overriding) the inherited environment
  std::vector<std::string> unset_env;         // removed from the inherited environment
  bool capture = true;                        // stdout and stderr into pipes; otherwise inherited
  bool merge_stderr = false;                  // stderr into the stdout pipe
  bool stdin_pipe = false;                    // otherwise /dev/null
  bool new_process_group = true;              // so a stop reaches every grandchild too
  bool die_with_parent = false;               // SIGKILL when this thread's process dies (even by SIGKILL)
};

// A child process. It owns its process group: destroying a still-running Process stops the whole
// group (SIGTERM, then SIGKILL), so nothing is ever orphaned.
class Process {
 public:
  Process() = default;
  explicit Process(const SpawnOptions& options);  // throws UserError when it cannot start
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  int stdout_fd() const { return out_fd_; }
  int stderr_fd() const { return err_fd_; }
  int stdin_fd() const { return in_fd_; }
  void close_stdin();
  // Hands the output pipes to the caller, who then closes them.
  int release_stdout();
  int release_stderr();

  // Exit code; 128+N when killed by signal N. Blocks.
  int wait();
  // The exit code if the process has ended, without blocking.
  std::optional<int> poll();
  // Sends `sig` to the process group (or the process when it has no own group).
  void signal(int sig);
  // SIGTERM to the group, SIGKILL after `grace`; returns the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  bool running();

 private:
  void close_fds();
  pid_t pid_ = -1;
  bool own_group_ = false;
  std::optional<int> exit_code_;
  int out_fd_ = -1, err_fd_ = -1, in_fd_ = -1;
};

struct RunResult {
  int exit_code = 0;
  std::string out;
  std::string err;
  bool timed_out = false;
};
// Runs to completion, feeding `input` on stdin and collecting output; stops the group on timeout.
RunResult run_captured(SpawnOptions options, std::string_view input = {},
                       std::chrono::milliseconds timeout = std::chrono::minutes(10));
// Runs to completion, handing each line of its merged output to `on_line` as it comes.
int run_lines(SpawnOptions options, const std::function<void(const std::string&)>& on_line);
// Runs in the foreground of the terminal: output goes straight to it, `input` (if any) is fed on
// stdin. Ctrl-C reaches the child, and the caller waits for it to finish rather than dying first.
int run_attached(SpawnOptions options, std::string_view input = {});
// `bash -c <command>`: how user commands from service.yml run.
std::vector<std::string> shell(std::string_view command);
// Finds a program on PATH; empty when absent.
std::string find_program(std::string_view name);
// Decodes a waitpid status: exit code, or 128+signal.
int exit_code_of(int status);

}  // namespace exo
