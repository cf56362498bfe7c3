#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "exocom/options.hpp"

namespace exo::exocom {

// ExoCom's output: the original trace lines (`web  --[ users.create ]-[ mongo.create ]->  users`),
// warnings and errors, as text or one JSON object per line. Lines collect in a buffer that the
// server flushes once per batch of work, so tracing costs no system call per message.
class TraceLog {
 public:
  TraceLog(const Options& options, std::FILE* out = stdout);
  void info(std::string_view text);
  // A line of JSON exactly as given, in either format (CloudWatch reads metrics from such lines).
  void record(std::string_view json_line);
  void warning(std::string_view text);
  void error(std::string_view text);
  // One delivered message: sender, the name it sent, the name the receiver got, the receiver, its
  // activity and the size of the frame delivered.
  void trace(std::string_view sender, std::string_view name, std::string_view internal_name, std::string_view receiver,
             std::chrono::nanoseconds response_time, std::string_view payload, std::string_view activity = {},
             size_t size = 0);
  bool tracing() const { return !quiet_ || observing_; }
  void flush();

  // Observers of /observe: while there are any, deliveries are also kept as JSON events, at most
  // kObservedPerSecond a second (the rest only counted), until take_observed() hands them over.
  static constexpr size_t kObservedPerSecond = 2000;
  void set_observing(bool on) { observing_ = on; }
  // A new second for the rate (the server's one-second tick): no clock read per message.
  void new_second() { observed_this_second_ = 0; }
  // `{"events":[...],"sampledOut":N}` since the last call; empty when there are no events (and,
  // with `counts_too`, no deliveries left out either).
  std::string take_observed(bool counts_too = false);

 private:
  void line(std::string_view level, std::string_view text);
  std::FILE* out_;
  void observe(std::string_view sender, std::string_view name, std::string_view internal_name, std::string_view receiver,
               std::chrono::nanoseconds response_time, std::string_view payload, std::string_view activity, size_t size);
  bool quiet_, payloads_, json_, colors_;
  std::string buffer_;
  bool observing_ = false;
  std::string observed_;  // events, comma-separated
  uint64_t sampled_out_ = 0;
  size_t observed_this_second_ = 0;
};

}  // namespace exo::exocom
