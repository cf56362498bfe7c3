#include "support/processes.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "common/files.hpp"
#include "common/net.hpp"
#include "support/test_support.hpp"

namespace exo::test {

OutputWatcher::OutputWatcher(int fd) : fd_(fd) {
  reader_ = std::thread([this] {
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        ended_ = true;
        changed_.notify_all();
        return;
      }
      text_.append(buf, static_cast<size_t>(n));
      changed_.notify_all();
    }
  });
}

OutputWatcher::~OutputWatcher() {
  // The writer is gone by now (the process was stopped), so the reader sees EOF.
  if (reader_.joinable()) reader_.join();
  ::close(fd_);
}

std::string OutputWatcher::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

size_t OutputWatcher::wait_for(std::string_view needle, std::chrono::milliseconds timeout, size_t from) const {
  std::unique_lock lock(mutex_);
  size_t pos = std::string::npos;
  changed_.wait_for(lock, timeout, [&] {
    pos = text_.find(needle, std::min(from, text_.size()));
    return pos != std::string::npos || ended_;
  });
  if (pos == std::string::npos) pos = text_.find(needle, std::min(from, text_.size()));
  return pos;
}

size_t OutputWatcher::count(std::string_view needle) const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (size_t pos = text_.find(needle); pos != std::string::npos; pos = text_.find(needle, pos + needle.size())) ++n;
  return n;
}

void OutputWatcher::wait_ended(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return ended_; });
}

bool OutputWatcher::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

Watched::Watched(SpawnOptions options) {
  options.capture = true;
  options.merge_stderr = true;
  process_ = Process(options);
  output_ = std::make_unique<OutputWatcher>(process_.release_stdout());
}

std::optional<int> Watched::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = process_.poll()) {
      output_->wait_ended(2s);  // what it wrote last may still be in the pipe
      return code;
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

std::vector<int> processes_with(std::string_view token) {
  std::vector<int> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    int pid = std::stoi(name);
    if (pid == getpid()) continue;
    auto stat = exo::try_read_file(entry.path() / "stat");
    if (!stat) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] == 'Z') continue;
    auto cmdline = exo::try_read_file(entry.path() / "cmdline").value_or("");
    auto environ = exo::try_read_file(entry.path() / "environ").value_or("");
    if (cmdline.find(token) != std::string::npos || environ.find(token) != std::string::npos) found.push_back(pid);
  }
  return found;
}

std::unique_ptr<Watched> start_exo(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                                   std::map<std::string, std::string> env) {
  return std::make_unique<Watched>(exo_command(args, cwd, std::move(env)));
}

std::string exocom_binary() { return std::string(EXO_BUILD_DIR) + "/src/exocom/exocom"; }

Exocom::Exocom(std::string service_data, std::vector<std::string> args, std::map<std::string, std::string> env) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1"};
  if (std::find(args.begin(), args.end(), "--port") == args.end()) o.argv.insert(o.argv.end(), {"--port", "0"});
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = std::move(env);
  o.env["NO_COLOR"] = "1";
  if (!service_data.empty()) o.env["SERVICE_DATA"] = service_data;
  o.unset_env = {"SERVICE_ROUTES", "PORT"};
  watched_ = std::make_unique<Watched>(o);
  auto pos = watched_->output().wait_for("ExoCom online at port ", 10s);
  if (pos == std::string::npos) throw std::runtime_error("exocom did not start: " + watched_->output().text());
  port_ = port_after(watched_->output().text(), "ExoCom online at port ");
}

uint16_t port_after(const std::string& text, std::string_view marker) {
  auto at = text.find(marker);
  size_t digits = at == std::string::npos ? 0 : at + marker.size();
  size_t end = digits;
  while (end < text.size() && end - digits < 5 && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == digits) throw std::runtime_error("no port after '" + std::string(marker) + "' in: " + text);
  return static_cast<uint16_t>(std::stoi(text.substr(digits, end - digits)));
}

std::pair<int, std::string> Exocom::get(std::string_view path) const { return http_get(port_, path); }

std::pair<int, std::string> http_get(uint16_t port, std::string_view path, std::chrono::milliseconds timeout) {
  int fd = connect_loopback(port, timeout);
  if (fd < 0) return {0, ""};
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return {0, resp};
  int status = std::stoi(resp.substr(9, 3));
  auto body = resp.find("\r\n\r\n");
  return {status, body == std::string::npos ? "" : resp.substr(body + 4)};
}

}  // namespace exo::test
