#pragma once

// RFC 6455 framing, shared by the bus, the SDK and the tests. It only turns bytes into frames and
// back; sockets live elsewhere. ExoCom frames messages itself (rather than through Beast's stream)
// so that it can read many frames per system call and write many per system call: see
// docs/architecture.md, "Why ExoCom frames WebSocket itself".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace exo::ws {

enum class Opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes ExoCom uses (RFC 6455 §7.4.1).
namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t unsupported_data = 1003;
constexpr uint16_t no_status = 1005;
constexpr uint16_t abnormal = 1006;
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t policy_violation = 1008;
constexpr uint16_t too_big = 1009;
constexpr uint16_t internal_error = 1011;
}  // namespace close_code

// What a decoder reports, frame by frame, for one connection.
class Events {
 public:
  virtual ~Events() = default;
  // A complete text message (fragments joined). The view is valid during the call only.
  virtual void on_text(std::string_view message) = 0;
  virtual void on_binary(std::string_view message) = 0;
  virtual void on_close(uint16_t code, std::string_view reason) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  // The peer broke the protocol: close the connection with `code`.
  virtual void on_protocol_error(uint16_t code, std::string_view reason) = 0;
};

// Turns a byte stream into messages. `feed` unmasks in place and returns how many bytes it used;
// the caller keeps the rest and feeds it again with more bytes appended. After a close frame or a
// broken frame it stops consuming. After a message that is too big (1009) the framing is still
// intact, so it drains: it skips the rest of that message and every later data frame unread, and
// reports only the peer's close frame (RFC 6455 §7: the close handshake completes even then).
class Decoder {
 public:
  Decoder(bool expect_masked, size_t max_message_size)
      : expect_masked_(expect_masked), max_message_size_(max_message_size) {}
  size_t feed(char* data, size_t size, Events& events);
  bool stopped() const { return stopped_; }
  bool draining() const { return draining_; }
  void set_max_message_size(size_t n) { max_message_size_ = n; }
  // Bytes held for a fragmented message in progress.
  size_t buffered() const { return fragments_.capacity(); }
  void release_memory();

 private:
  bool expect_masked_;
  size_t max_message_size_;
  bool stopped_ = false;
  bool draining_ = false;
  uint64_t skip_ = 0;  // payload bytes of a refused frame still to be skipped
  bool in_message_ = false;
  Opcode message_opcode_ = Opcode::text;
  std::string fragments_;
};

// The largest header a frame can have (2 + 8 length + 4 mask).
constexpr size_t kMaxHeaderSize = 14;
// Writes a frame header for `payload_size` bytes ending exactly at `end`; returns its size.
size_t write_header_before(char* end, Opcode opcode, uint64_t payload_size, const uint8_t* mask);
// Appends a complete frame; `mask` (4 bytes) for frames a client sends, nullptr for a server's.
void append_frame(std::string& out, Opcode opcode, std::string_view payload, const uint8_t* mask = nullptr);
// The payload of a close frame: the code in network order and a reason (cut to fit 123 bytes).
std::string close_payload(uint16_t code, std::string_view reason);
// XORs `size` bytes with the 4-byte mask, starting at byte `offset` of the masked stream.
void apply_mask(char* data, size_t size, const uint8_t mask[4], size_t offset = 0);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 of SHA-1 of key + RFC GUID).
std::string accept_key(std::string_view client_key);
std::string base64(std::string_view bytes);
std::string sha1(std::string_view bytes);  // 20 raw bytes

}  // namespace exo::ws
