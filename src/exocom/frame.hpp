#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/websocket.hpp"

namespace exo::exocom {

// A server-to-client WebSocket frame, serialized once and shared by every connection it goes to.
class OutFrame {
 public:
  // Starts a frame: write the payload into `body()`, then call `seal`.
  OutFrame() { buf_.assign(ws::kMaxHeaderSize, '\0'); }
  std::string& body() { return buf_; }
  void seal(ws::Opcode opcode = ws::Opcode::text) {
    size_t n = ws::write_header_before(buf_.data() + ws::kMaxHeaderSize, opcode, buf_.size() - ws::kMaxHeaderSize, nullptr);
    start_ = ws::kMaxHeaderSize - n;
  }
  // Bytes that are not a frame (an HTTP response): sent as they are.
  void seal_raw() { start_ = ws::kMaxHeaderSize; }
  const char* data() const { return buf_.data() + start_; }
  size_t size() const { return buf_.size() - start_; }
  std::string_view payload() const { return std::string_view(buf_).substr(ws::kMaxHeaderSize); }

 private:
  std::string buf_;
  size_t start_ = 0;
};

using Frame = std::shared_ptr<const OutFrame>;

inline Frame make_frame(ws::Opcode opcode, std::string_view payload) {
  auto f = std::make_shared<OutFrame>();
  f->body() += payload;
  f->seal(opcode);
  return f;
}

}  // namespace exo::exocom
