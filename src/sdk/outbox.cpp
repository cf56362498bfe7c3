#include "sdk/outbox.hpp"

#include <cerrno>

#include "exosphere/status.hpp"

namespace exosphere::sdk {

Outbox::Outbox(std::size_t max_bytes, std::chrono::milliseconds send_timeout, std::string where)
    : max_bytes_(max_bytes), send_timeout_(send_timeout), where_(std::move(where)) {}

bool Outbox::send(std::string frame, Kind kind) {
  std::unique_lock lock(mutex_);
  if (kind == Kind::message) {
    wait_for_room(lock, frame.size());
  } else if (close_queued_) {
    return false;  // a receipt or a pong this late is moot
  }
  queued_bytes_ += frame.size();
  queue_.push_back({std::move(frame), kind != Kind::control});
  if (open_) flush_locked();
  return !queue_.empty();
}

void Outbox::wait_for_room(std::unique_lock<std::mutex>& lock, std::size_t size) {
  auto fits = [&] { return unaccepted() + size <= max_bytes_; };
  // Only a connection brings room (ExoCom's receipts), and never for a frame larger than the bound.
  if (open_ && !close_queued_ && size <= max_bytes_ && !fits())
    room_.wait_for(lock, send_timeout_, [&] { return close_queued_ || !open_ || fits(); });
  if (close_queued_) throw Error(Status::closed, "the relay is closed");
  if (fits()) return;
  if (!open_)
    throw Error(Status::not_connected, "ExoCom at " + where_ + " is unreachable and " + std::to_string(unaccepted()) +
                                           " bytes already wait to be sent; the queue holds " +
                                           std::to_string(max_bytes_));
  throw Error(Status::busy, "a message of " + std::to_string(size) + " bytes does not fit: ExoCom at " + where_ +
                                " has not accepted the " + std::to_string(unaccepted()) +
                                " bytes this relay sent (the outbox holds " + std::to_string(max_bytes_) + ") within " +
                                std::to_string(send_timeout_.count()) + "ms; a receiver is slower than this sender");
}

void Outbox::connected(Writer writer, std::string registration, bool keeping) {
  std::lock_guard lock(mutex_);
  writer_ = std::move(writer);
  open_ = true;
  close_queued_ = false;
  keeping_ = keeping;  // until ExoCom says it gives no receipts
  accepted_here_ = 0;
  // A frame cut off by the last disconnect is sent again whole; the receipts, pongs and close frame
  // of the last connection would mean something else on this one.
  std::deque<Frame> next;
  next.push_back({std::move(registration), false});
  for (auto& bytes : kept_) next.push_back({std::move(bytes), true});
  for (auto& f : queue_)
    if (f.counted) next.push_back(std::move(f));
  kept_.clear();
  kept_bytes_ = 0;
  queue_ = std::move(next);
  front_offset_ = 0;
  queued_bytes_ = 0;
  for (const auto& f : queue_) queued_bytes_ += f.bytes.size();
  flush_locked();
  room_.notify_all();
}

void Outbox::disconnected() {
  {
    std::lock_guard lock(mutex_);
    open_ = false;
    writer_ = nullptr;
  }
  room_.notify_all();  // a message waiting for room fails at once, as while disconnected
}

void Outbox::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void Outbox::flush_locked() {
  bool freed = false;
  while (open_ && !queue_.empty()) {
    iovec iov[64];
    int count = 0;
    size_t offset = front_offset_;
    for (auto& f : queue_) {
      if (count == 64) break;
      iov[count++] = {f.bytes.data() + offset, f.bytes.size() - offset};
      offset = 0;
    }
    ssize_t n = writer_(iov, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // full (the I/O thread polls for room) or broken (it notices and reconnects)
    auto left = static_cast<size_t>(n);
    while (left > 0) {
      Frame& f = queue_.front();
      size_t rest = f.bytes.size() - front_offset_;
      if (left < rest) {
        front_offset_ += left;
        break;
      }
      left -= rest;
      queued_bytes_ -= f.bytes.size();
      if (keeping_ && f.counted) {
        kept_bytes_ += f.bytes.size();
        kept_.push_back(std::move(f.bytes));
      } else {
        freed = true;
      }
      queue_.pop_front();
      front_offset_ = 0;
    }
  }
  if (freed) room_.notify_all();
}

void Outbox::accepted(std::uint64_t count) {
  {
    std::lock_guard lock(mutex_);
    while (accepted_here_ < count && !kept_.empty()) {
      kept_bytes_ -= kept_.front().size();
      kept_.pop_front();
      ++accepted_here_;
    }
  }
  room_.notify_all();
}

void Outbox::no_receipts() {
  {
    std::lock_guard lock(mutex_);
    keeping_ = false;
    kept_.clear();
    kept_bytes_ = 0;
  }
  room_.notify_all();
}

void Outbox::close(std::string close_frame) {
  {
    std::lock_guard lock(mutex_);
    close_queued_ = true;
    queued_bytes_ += close_frame.size();
    queue_.push_back({std::move(close_frame), false});
    flush_locked();
  }
  room_.notify_all();  // a message waiting for room would follow the close frame: it fails
}

std::size_t Outbox::shut() {
  std::size_t unsent;
  {
    std::lock_guard lock(mutex_);
    open_ = false;
    writer_ = nullptr;
    unsent = kept_.size();
    for (const auto& f : queue_) unsent += f.counted ? 1 : 0;
  }
  room_.notify_all();
  return unsent;
}

bool Outbox::waiting() const {
  std::lock_guard lock(mutex_);
  return !queue_.empty();
}

bool Outbox::finished() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && kept_.empty();
}

}  // namespace exosphere::sdk
