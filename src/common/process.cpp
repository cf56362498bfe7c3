#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <thread>
#include <utility>

#include "common/error.hpp"
#include "common/text.hpp"

extern char** environ;

namespace exo {

namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw UserError(std::string("cannot create a pipe: ") + std::strerror(errno));
    read = fds[0];
    write = fds[1];
  }
};

std::vector<std::string> build_env(const SpawnOptions& o) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    merged[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& k : o.unset_env) merged.erase(k);
  for (const auto& [k, v] : o.env) merged[k] = v;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [k, v] : merged) out.push_back(k + "=" + v);
  return out;
}

// fork/exec for children that must not outlive this process: posix_spawn cannot ask for a
// parent-death signal. Returns 0 or the errno of what failed.
int spawn_tied(const SpawnOptions& o, std::vector<char*>& argv, std::vector<char*>& envp, int out, int err, int in,
               pid_t& pid) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  pid_t parent = getpid();
  const char* cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  pid = fork();
  if (pid < 0) {
    int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    return e;
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    auto fail = [&](int e) {
      (void)!::write(report[1], &e, sizeof e);
      _exit(127);
    };
    if (o.new_process_group) setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent died before the request took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) signal(s, SIG_DFL);
    if (out >= 0) {
      dup2(out, 1);
      dup2(err >= 0 ? err : out, 2);
    }
    if (in >= 0) dup2(in, 0);
    else {
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, 0);
    }
    if (cwd && chdir(cwd) != 0) fail(errno);
    execvpe(argv[0], argv.data(), envp.data());
    fail(errno);
  }
  if (o.new_process_group) setpgid(pid, pid);  // no race with an early signal to the group
  ::close(report[1]);
  int e = 0;
  ssize_t n;
  while ((n = ::read(report[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n == sizeof e) {
    waitpid(pid, nullptr, 0);
    return e;
  }
  return 0;
}

}  // namespace

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

Process::Process(const SpawnOptions& o) {
  if (o.argv.empty()) bug("spawn without a program", __FILE__, __LINE__);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::optional<Pipe> out, err, in;
  if (o.capture) {
    out.emplace();
    posix_spawn_file_actions_adddup2(&actions, out->write, 1);
    if (o.merge_stderr) {
      posix_spawn_file_actions_adddup2(&actions, out->write, 2);
    } else {
      err.emplace();
      posix_spawn_file_actions_adddup2(&actions, err->write, 2);
    }
  }
  if (o.stdin_pipe) {
    in.emplace();
    posix_spawn_file_actions_adddup2(&actions, in->read, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, o.cwd.c_str());

  std::vector<std::string> env = build_env(o);
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = o.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = o.die_with_parent ? spawn_tied(o, argv, envp, out ? out->write : -1, o.merge_stderr ? -1 : (err ? err->write : -1),
                                          in ? in->read : -1, pid)
                             : posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  auto close_fd = [](int& fd) { if (fd >= 0) { ::close(fd); fd = -1; } };
  if (out) close_fd(out->write);
  if (err) close_fd(err->write);
  if (in) close_fd(in->read);
  if (rc != 0) {
    if (out) close_fd(out->read);
    if (err) close_fd(err->read);
    if (in) close_fd(in->write);
    std::string where = o.cwd.empty() ? "" : " in " + o.cwd.string();
    throw UserError("cannot start '" + o.argv[0] + "'" + where + ": " + std::strerror(rc));
  }
  pid_ = pid;
  own_group_ = o.new_process_group;
  if (out) out_fd_ = out->read;
  if (err) err_fd_ = err->read;
  if (in) in_fd_ = in->write;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_code_) stop();
    close_fds();
    pid_ = std::exchange(other.pid_, -1);
    own_group_ = other.own_group_;
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
    out_fd_ = std::exchange(other.out_fd_, -1);
    err_fd_ = std::exchange(other.err_fd_, -1);
    in_fd_ = std::exchange(other.in_fd_, -1);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) stop();
  close_fds();
}

void Process::close_fds() {
  for (int* fd : {&out_fd_, &err_fd_, &in_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void Process::close_stdin() {
  if (in_fd_ >= 0) ::close(in_fd_);
  in_fd_ = -1;
}

int Process::release_stdout() { return std::exchange(out_fd_, -1); }
int Process::release_stderr() { return std::exchange(err_fd_, -1); }

int Process::wait() {
  if (exit_code_) return *exit_code_;
  if (pid_ <= 0) bug("wait on a process that never started", __FILE__, __LINE__);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      exit_code_ = 1;  // reaped elsewhere (SIGCHLD set to ignore): nothing more to learn
      return 1;
    }
  }
  exit_code_ = exit_code_of(status);
  return *exit_code_;
}

std::optional<int> Process::poll() {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_code_ = exit_code_of(status);
  else if (r < 0 && errno == ECHILD) exit_code_ = 1;
  return exit_code_;
}

bool Process::running() { return pid_ > 0 && !poll(); }

void Process::signal(int sig) {
  if (pid_ <= 0) return;
  // Grandchildren may outlive the leader, so the group is signalled even after the leader exited.
  // One signal only: a second SIGTERM could arrive after the child had already put its handler
  // away while shutting down, and kill it mid-way (exit code 143 instead of 0).
  if (own_group_ && ::kill(-pid_, sig) == 0) return;
  if (!exit_code_) ::kill(pid_, sig);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return exit_code_.value_or(0);
  if (!poll()) {
    signal(SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (!poll() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  signal(SIGKILL);
  return wait();
}

namespace {

// Keeps `signals` blocked for this thread; on release drops any that arrived meanwhile, so a
// child that stops reading its input (SIGPIPE) or a Ctrl-C meant for a child does not end exo.
class BlockedSignals {
 public:
  explicit BlockedSignals(std::initializer_list<int> signals) {
    sigemptyset(&set_);
    for (int s : signals) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  ~BlockedSignals() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

}  // namespace

RunResult run_captured(SpawnOptions options, std::string_view input, std::chrono::milliseconds timeout) {
  options.capture = true;
  options.stdin_pipe = !input.empty();
  std::optional<BlockedSignals> blocked;
  if (!input.empty()) blocked.emplace(std::initializer_list<int>{SIGPIPE});
  Process p(options);
  RunResult result;
  size_t written = 0;
  if (input.empty()) p.close_stdin();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int out = p.stdout_fd(), err = p.stderr_fd();
  if (p.stdin_fd() >= 0) fcntl(p.stdin_fd(), F_SETFL, O_NONBLOCK);
  while (out >= 0 || err >= 0) {
    std::vector<pollfd> fds;
    if (out >= 0) fds.push_back({out, POLLIN, 0});
    if (err >= 0) fds.push_back({err, POLLIN, 0});
    if (p.stdin_fd() >= 0) fds.push_back({p.stdin_fd(), POLLOUT, 0});
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (auto& f : fds) {
      if (!f.revents) continue;
      if (f.fd == p.stdin_fd()) {
        ssize_t w = ::write(f.fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = input.size();
        if (written >= input.size()) p.close_stdin();
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(f.fd, buf, sizeof buf);
      if (r > 0) {
        (f.fd == out ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        if (f.fd == out) out = -1;
        else err = -1;
      }
    }
  }
  result.exit_code = result.timed_out ? p.stop() : p.wait();
  return result;
}

int run_attached(SpawnOptions options, std::string_view input) {
  options.capture = false;
  options.new_process_group = false;
  options.stdin_pipe = !input.empty();
  // A Ctrl-C meanwhile is meant for the child, which decides how to stop; exo waits for it.
  BlockedSignals blocked({SIGINT, SIGPIPE});
  Process p(options);
  if (p.stdin_fd() >= 0) {
    for (size_t written = 0; written < input.size();) {
      ssize_t w = ::write(p.stdin_fd(), input.data() + written, input.size() - written);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      written += static_cast<size_t>(w);
    }
    p.close_stdin();
  }
  return p.wait();
}

int run_lines(SpawnOptions options, const std::function<void(const std::string&)>& on_line) {
  options.capture = true;
  options.merge_stderr = true;
  Process p(options);
  std::string partial;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(p.stdout_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = partial.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      on_line(line);
    }
    partial.erase(0, start);
  }
  if (!partial.empty()) on_line(partial);
  return p.wait();
}

std::vector<std::string> shell(std::string_view command) { return {"bash", "-c", std::string(command)}; }

std::string find_program(std::string_view name) {
  if (name.find('/') != std::string_view::npos) return access(std::string(name).c_str(), X_OK) == 0 ? std::string(name) : "";
  const char* path = std::getenv("PATH");
  for (const auto& dir : split(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + std::string(name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace exo
