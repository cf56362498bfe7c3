// Child I/O for `exo run`: a child's merged output turned into lines as it comes, and its exit
// reported once everything it wrote has been read. All on the supervisor's event loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/process.hpp"

namespace exo::runner {

// A running child: its process group, and its merged output turned into lines.
struct Child {
  Process process;
  std::unique_ptr<boost::asio::posix::stream_descriptor> output;
  std::string partial;
  std::function<void(const std::string&)> on_line;
  std::function<void(int)> on_exit;
  bool exited = false;
};

class Children {
 public:
  // `after_exits` runs after each batch of exits has been reported.
  Children(boost::asio::io_context& io, std::function<void()> after_exits);
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;

  // Reads its stdout (stderr merged) line by line into `on_line`; calls `on_exit` when it ends.
  void attach(const std::shared_ptr<Child>& child);
  const std::vector<std::shared_ptr<Child>>& running() const { return children_; }

 private:
  void watch();
  void reap();
  void read_output(const std::shared_ptr<Child>& child);
  static void take_output(Child& c, std::string_view data);
  static void flush_partial(Child& c);

  boost::asio::io_context& io_;
  boost::asio::signal_set sigchld_;
  std::function<void()> after_exits_;
  std::vector<std::shared_ptr<Child>> children_;
};

}  // namespace exo::runner
