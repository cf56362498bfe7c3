#pragma once

// The relay's write side: the frames waiting for the socket and, with receipts (docs/protocol.md,
// "Receipts"), the messages written but not yet accepted by ExoCom. One bound covers both, connected
// or not; a message that finds it full waits for ExoCom's receipts up to a timeout. It writes
// through a function it is given, so it knows nothing of sockets.

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

namespace exosphere::sdk {

class Outbox {
 public:
  // Takes what it can of the frames without blocking: the bytes taken, or -1 with errno (EINTR is
  // tried again; anything else leaves the rest for flush()).
  using Writer = std::function<ssize_t(const iovec*, int)>;

  enum class Kind {
    message,  // a service's message: numbered by ExoCom, bounded, kept until accepted
    answer,   // numbered too, but the I/O thread's answer to a health check must never wait
    control,  // a receipt, a pong, the registration, the close frame: they belong to one connection
  };

  // `max_bytes` bounds what is not accepted yet; `where` names ExoCom in errors.
  Outbox(std::size_t max_bytes, std::chrono::milliseconds send_timeout, std::string where);

  // Queues a frame and writes what the connection takes; true while frames wait for the socket.
  // A message that does not fit waits up to send_timeout for ExoCom to accept earlier ones, then is
  // Error(busy); while disconnected it is Error(not_connected) at once; after close(), Error(closed).
  // Answers and control frames never wait (after close() they are dropped).
  bool send(std::string frame, Kind kind = Kind::message);

  // A new connection writing through `writer`: `registration` first, then the messages the last
  // connection did not have accepted, then the waiting messages; its control frames are dropped.
  void connected(Writer writer, std::string registration, bool keeping);
  void disconnected();
  // The socket has room again.
  void flush();
  // ExoCom's receipt: `count` messages of this connection are accepted, in order.
  void accepted(std::uint64_t count);
  // ExoCom gives no receipts: what is written is its; nothing is kept.
  void no_receipts();
  // Our close frame: nothing is queued after it.
  void close(std::string close_frame);
  // Nothing is written any more; returns the messages that never reached ExoCom's keeping.
  std::size_t shut();

  bool waiting() const;   // frames wait for the socket
  bool finished() const;  // everything is written and accepted

 private:
  struct Frame {
    std::string bytes;
    bool counted;  // a message ExoCom numbers (every text frame after the registration)
  };

  void flush_locked();
  void wait_for_room(std::unique_lock<std::mutex>& lock, std::size_t size);
  std::size_t unaccepted() const { return queued_bytes_ + kept_bytes_; }

  const std::size_t max_bytes_;
  const std::chrono::milliseconds send_timeout_;
  const std::string where_;

  mutable std::mutex mutex_;
  std::condition_variable room_;  // unaccepted bytes fell, or sending became pointless
  Writer writer_;
  bool open_ = false;          // a connection takes frames
  bool close_queued_ = false;  // our close frame is queued: nothing may follow it
  std::deque<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t front_offset_ = 0;  // what of the first frame is written already
  bool keeping_ = false;
  std::deque<std::string> kept_;  // written to this connection, not accepted yet, oldest first
  std::size_t kept_bytes_ = 0;
  std::uint64_t accepted_here_ = 0;  // messages of this connection ExoCom accepted so far
};

}  // namespace exosphere::sdk
