#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "common/websocket.hpp"

namespace exo::exocom {

// A server-to-client WebSocket frame (or raw bytes, for HTTP responses): serialized once, shared
// by every connection it goes to. One allocation holds the count and the bytes; the count is not
// atomic because ExoCom runs on one thread.
class Frame {
 public:
  Frame() = default;
  Frame(const Frame& o) : b_(o.b_) {
    if (b_) ++b_->refs;
  }
  Frame(Frame&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  Frame& operator=(Frame o) noexcept {
    std::swap(b_, o.b_);
    return *this;
  }
  ~Frame() {
    if (b_ && --b_->refs == 0) std::free(b_);
  }

  // A frame of `opcode` around `payload`.
  static Frame make(ws::Opcode opcode, std::string_view payload) {
    char header[ws::kMaxHeaderSize];
    size_t h = ws::write_header_before(header + ws::kMaxHeaderSize, opcode, payload.size(), nullptr);
    Frame f(h + payload.size(), h);
    std::memcpy(f.b_->bytes(), header + ws::kMaxHeaderSize - h, h);
    std::memcpy(f.b_->bytes() + h, payload.data(), payload.size());
    return f;
  }
  // Bytes sent as they are.
  static Frame raw(std::string_view bytes) {
    Frame f(bytes.size(), 0);
    std::memcpy(f.b_->bytes(), bytes.data(), bytes.size());
    return f;
  }

  explicit operator bool() const { return b_ != nullptr; }
  // A message (not a control frame or raw HTTP bytes).
  bool is_text() const { return b_->header > 0 && (static_cast<uint8_t>(b_->bytes()[0]) & 0x0f) == 1; }
  const char* data() const { return b_->bytes(); }
  size_t size() const { return b_->size; }
  std::string_view payload() const { return std::string_view(b_->bytes() + b_->header, b_->size - b_->header); }
  void reset() { *this = Frame(); }

 private:
  struct Block {
    uint32_t refs;
    uint32_t header;
    size_t size;
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
  };
  Frame(size_t size, size_t header) {
    void* mem = std::malloc(sizeof(Block) + size);
    if (!mem) throw std::bad_alloc();
    b_ = static_cast<Block*>(mem);
    b_->refs = 1;
    b_->header = static_cast<uint32_t>(header);
    b_->size = size;
  }
  Block* b_ = nullptr;
};

inline Frame make_frame(ws::Opcode opcode, std::string_view payload) { return Frame::make(opcode, payload); }

}  // namespace exo::exocom
