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
  // One delivered message: sender, the name it sent, the name the receiver got, the receiver.
  void trace(std::string_view sender, std::string_view name, std::string_view internal_name, std::string_view receiver,
             std::chrono::nanoseconds response_time, std::string_view payload);
  bool tracing() const { return !quiet_; }
  void flush();

 private:
  void line(std::string_view level, std::string_view text);
  std::FILE* out_;
  bool quiet_, payloads_, json_, colors_;
  std::string buffer_;
};

}  // namespace exo::exocom
