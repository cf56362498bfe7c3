#include "exocom/trace_log.hpp"

#include "common/envelope.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace exo::exocom {

TraceLog::TraceLog(const Options& options, std::FILE* out)
    : out_(out),
      quiet_(options.quiet),
      payloads_(options.log_payloads),
      json_(options.log_format == LogFormat::json),
      colors_(colors_wanted(out)) {}

void TraceLog::line(std::string_view level, std::string_view text) {
  if (json_) {
    buffer_ += "{\"time\":\"" + rfc3339_nanos(std::chrono::system_clock::now()) + "\",\"level\":\"";
    buffer_ += level;
    buffer_ += "\",\"message\":";
    wire::append_json_string(buffer_, text);
    buffer_ += "}\n";
    return;
  }
  if (level == "warning") buffer_ += paint("Warning: " + std::string(text), Color::yellow, colors_);
  else if (level == "error") buffer_ += paint("Error: " + std::string(text), Color::red, colors_);
  else buffer_ += text;
  buffer_ += '\n';
}

void TraceLog::info(std::string_view text) { line("info", text); }
void TraceLog::record(std::string_view json_line) {
  buffer_ += json_line;
  buffer_ += '\n';
}
void TraceLog::warning(std::string_view text) { line("warning", text); }
void TraceLog::error(std::string_view text) { line("error", text); }

void TraceLog::observe(std::string_view sender, std::string_view name, std::string_view internal_name,
                       std::string_view receiver, std::chrono::nanoseconds response_time, std::string_view payload,
                       std::string_view activity, size_t size) {
  // Past the rate, an event costs one comparison: a dashboard never slows the bus down.
  if (observed_this_second_ >= kObservedPerSecond) {
    ++sampled_out_;
    return;
  }
  ++observed_this_second_;
  if (!observed_.empty()) observed_ += ',';
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  observed_ += "{\"time\":" + std::to_string(ms) + ",\"sender\":";
  wire::append_json_string(observed_, sender);
  observed_ += ",\"name\":";
  wire::append_json_string(observed_, name);
  observed_ += ",\"as\":";
  wire::append_json_string(observed_, internal_name);
  observed_ += ",\"receiver\":";
  wire::append_json_string(observed_, receiver);
  if (response_time.count() > 0)
    observed_ += ",\"rt\":" + std::to_string(std::chrono::duration<double, std::milli>(response_time).count());
  observed_ += ",\"size\":" + std::to_string(size);
  if (!activity.empty()) {
    observed_ += ",\"activity\":";
    wire::append_json_string(observed_, activity);
  }
  if (payloads_ && !payload.empty()) {
    observed_ += ",\"payload\":";
    observed_ += payload;
  }
  observed_ += '}';
}

std::string TraceLog::take_observed(bool counts_too) {
  // Deliveries only counted wait for the next events or the next second: no frame per batch.
  if (observed_.empty() && (!counts_too || sampled_out_ == 0)) return {};
  std::string out = "{\"events\":[" + observed_ + "],\"sampledOut\":" + std::to_string(sampled_out_) + "}";
  observed_.clear();
  sampled_out_ = 0;
  return out;
}

void TraceLog::trace(std::string_view sender, std::string_view name, std::string_view internal_name,
                     std::string_view receiver, std::chrono::nanoseconds response_time, std::string_view payload,
                     std::string_view activity, size_t size) {
  if (observing_) observe(sender, name, internal_name, receiver, response_time, payload, activity, size);
  if (quiet_) return;
  if (json_) {
    buffer_ += "{\"time\":\"" + rfc3339_nanos(std::chrono::system_clock::now()) + "\",\"level\":\"trace\",\"sender\":";
    wire::append_json_string(buffer_, sender);
    buffer_ += ",\"name\":";
    wire::append_json_string(buffer_, name);
    if (internal_name != name) {
      buffer_ += ",\"deliveredAs\":";
      wire::append_json_string(buffer_, internal_name);
    }
    buffer_ += ",\"receiver\":";
    wire::append_json_string(buffer_, receiver);
    if (response_time.count() > 0) buffer_ += ",\"responseTime\":" + std::to_string(response_time.count());
    if (payloads_ && !payload.empty()) {
      buffer_ += ",\"payload\":";
      buffer_ += payload;
    }
    buffer_ += "}\n";
    return;
  }
  buffer_ += sender;
  buffer_ += "  --[ ";
  buffer_ += name;
  if (internal_name != name) {
    buffer_ += " ]-[ ";
    buffer_ += internal_name;
  }
  buffer_ += " ]->  ";
  buffer_ += receiver;
  if (response_time.count() > 0) {
    buffer_ += "  ( ";
    buffer_ += human_duration(response_time);
    buffer_ += " )";
  }
  buffer_ += '\n';
  if (payloads_) {
    buffer_ += payload.empty() ? std::string_view("(no payload)") : payload;
    buffer_ += '\n';
  }
}

void TraceLog::flush() {
  if (buffer_.empty()) return;
  std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
  std::fflush(out_);
  buffer_.clear();
  if (buffer_.capacity() > (1 << 20)) buffer_.shrink_to_fit();
}

}  // namespace exo::exocom
