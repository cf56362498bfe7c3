#include "runner/child_io.hpp"

#include <signal.h>

#include <array>

namespace exo::runner {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

Children::Children(asio::io_context& io, std::function<void()> after_exits)
    : io_(io), sigchld_(io, SIGCHLD), after_exits_(std::move(after_exits)) {
  watch();
}

void Children::attach(const std::shared_ptr<Child>& child) {
  int fd = child->process.release_stdout();
  child->output = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  children_.push_back(child);
  read_output(child);
}

void Children::read_output(const std::shared_ptr<Child>& child) {
  auto buf = std::make_shared<std::array<char, 8192>>();
  child->output->async_read_some(asio::buffer(*buf), [this, child, buf](const error_code& ec, size_t n) {
    if (ec) return flush_partial(*child);
    take_output(*child, std::string_view(buf->data(), n));
    read_output(child);
  });
}

void Children::take_output(Child& c, std::string_view data) {
  c.partial.append(data);
  size_t start = 0;
  for (size_t nl; (nl = c.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = c.partial.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (c.on_line) c.on_line(line);
  }
  c.partial.erase(0, start);
  if (c.partial.size() > 65536) {  // a line without end: show it in pieces rather than hold it
    if (c.on_line) c.on_line(c.partial);
    c.partial.clear();
  }
}

void Children::flush_partial(Child& c) {
  if (!c.partial.empty() && c.on_line) c.on_line(c.partial);
  c.partial.clear();
}

void Children::watch() {
  sigchld_.async_wait([this](const error_code& ec, int) {
    if (ec) return;
    reap();
    watch();
  });
}

void Children::reap() {
  std::vector<std::pair<std::shared_ptr<Child>, int>> exited;
  for (auto it = children_.begin(); it != children_.end();) {
    if (auto code = (*it)->process.poll()) {
      exited.emplace_back(*it, *code);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [child, code] : exited) {
    child->exited = true;
    // Whatever it wrote before exiting is shown before its exit is reported.
    if (child->output) {
      char buf[8192];
      error_code ec;
      child->output->non_blocking(true, ec);
      while (true) {
        size_t n = child->output->read_some(asio::buffer(buf), ec);
        if (ec || n == 0) break;
        take_output(*child, std::string_view(buf, n));
      }
      flush_partial(*child);
      child->output->close(ec);
    }
    child->process.signal(SIGKILL);  // anything it left behind in its group
    if (child->on_exit) child->on_exit(code);
  }
  if (after_exits_) after_exits_();
}

}  // namespace exo::runner
