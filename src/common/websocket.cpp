#include "common/websocket.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace exo::ws {

namespace {

bool is_control(Opcode op) { return static_cast<uint8_t>(op) >= 8; }

bool valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

}  // namespace

void Decoder::release_memory() { std::string().swap(fragments_); }

size_t Decoder::feed(char* data, size_t size, Events& events) {
  size_t pos = 0;
  auto fail = [&](uint16_t code, std::string_view reason) {
    stopped_ = true;
    events.on_protocol_error(code, reason);
    return pos;
  };
  while (!stopped_) {
    if (skip_ > 0) {
      auto n = static_cast<size_t>(std::min<uint64_t>(skip_, size - pos));
      pos += n;
      skip_ -= n;
      if (skip_ > 0) return pos;
    }
    size_t avail = size - pos;
    if (avail < 2) return pos;
    auto* p = reinterpret_cast<uint8_t*>(data + pos);
    bool fin = p[0] & 0x80;
    if (p[0] & 0x70) return fail(close_code::protocol_error, "reserved bits set without an extension");
    auto opcode = static_cast<Opcode>(p[0] & 0x0f);
    bool masked = p[1] & 0x80;
    uint64_t length = p[1] & 0x7f;
    size_t header = 2;
    if (length == 126) {
      if (avail < 4) return pos;
      length = (uint64_t(p[2]) << 8) | p[3];
      header = 4;
      if (length < 126) return fail(close_code::protocol_error, "length not minimally encoded");
    } else if (length == 127) {
      if (avail < 10) return pos;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      header = 10;
      if (length >> 63) return fail(close_code::protocol_error, "frame length out of range");
      if (length <= 0xffff) return fail(close_code::protocol_error, "length not minimally encoded");
    }
    if (masked != expect_masked_)
      return fail(close_code::protocol_error, expect_masked_ ? "client frames must be masked" : "server frames must not be masked");
    uint8_t mask[4] = {0, 0, 0, 0};
    if (masked) {
      if (avail < header + 4) return pos;
      std::memcpy(mask, p + header, 4);
      header += 4;
    }
    switch (opcode) {
      case Opcode::continuation: case Opcode::text: case Opcode::binary:
      case Opcode::close: case Opcode::ping: case Opcode::pong: break;
      default: return fail(close_code::protocol_error, "unknown opcode");
    }
    if (is_control(opcode)) {
      if (!fin) return fail(close_code::protocol_error, "control frames must not be fragmented");
      if (length > 125) return fail(close_code::protocol_error, "control frame too long");
    } else if (draining_) {
      // Data after a refused message: skipped unread, only a close frame matters now.
      pos += header;
      skip_ = length;
      continue;
    } else {
      size_t so_far = opcode == Opcode::continuation ? fragments_.size() : 0;
      if (length > max_message_size_ || so_far + length > max_message_size_) {
        pos += header;
        skip_ = length;
        draining_ = true;
        release_memory();
        events.on_protocol_error(close_code::too_big, "message too big");
        continue;
      }
      if (opcode == Opcode::continuation && !in_message_)
        return fail(close_code::protocol_error, "continuation frame without a message");
      if (opcode != Opcode::continuation && in_message_)
        return fail(close_code::protocol_error, "new message before the previous one ended");
    }
    if (draining_ && opcode != Opcode::close) {
      if (avail - header < length) return pos;
      pos += header + static_cast<size_t>(length);  // pings and pongs while closing: ignored
      continue;
    }
    if (avail - header < length) return pos;  // wait for the rest of the frame
    char* payload = data + pos + header;
    auto n = static_cast<size_t>(length);
    if (masked) apply_mask(payload, n, mask);
    pos += header + n;
    std::string_view body(payload, n);

    switch (opcode) {
      case Opcode::ping: events.on_ping(body); break;
      case Opcode::pong: events.on_pong(body); break;
      case Opcode::close: {
        stopped_ = true;
        if (n == 0) {
          events.on_close(close_code::no_status, {});
        } else if (n == 1) {
          return fail(close_code::protocol_error, "close frame with a one-byte payload");
        } else {
          auto code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
          if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
          events.on_close(code, body.substr(2));
        }
        return pos;
      }
      default: {
        if (opcode != Opcode::continuation) message_opcode_ = opcode;
        if (fin && opcode != Opcode::continuation) {
          // The common case: a whole message in one frame, handed over without a copy.
          if (opcode == Opcode::text) events.on_text(body);
          else events.on_binary(body);
        } else {
          fragments_.append(body);
          in_message_ = !fin;
          if (fin) {
            if (message_opcode_ == Opcode::text) events.on_text(fragments_);
            else events.on_binary(fragments_);
            fragments_.clear();
            if (fragments_.capacity() > 65536) release_memory();
          }
        }
      }
    }
  }
  return pos;
}

void apply_mask(char* data, size_t size, const uint8_t mask[4], size_t offset) {
  size_t i = 0;
  // Word at a time once aligned to the mask period; the tail byte by byte.
  if (offset % 4 == 0 && size >= 8) {
    uint64_t m;
    uint8_t m8[8];
    for (int k = 0; k < 8; ++k) m8[k] = mask[k % 4];
    std::memcpy(&m, m8, 8);
    for (; i + 8 <= size; i += 8) {
      uint64_t v;
      std::memcpy(&v, data + i, 8);
      v ^= m;
      std::memcpy(data + i, &v, 8);
    }
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask[(offset + i) % 4]);
}

size_t write_header_before(char* end, Opcode opcode, uint64_t payload_size, const uint8_t* mask) {
  uint8_t h[kMaxHeaderSize];
  size_t n = 0;
  h[n++] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  uint8_t mbit = mask ? 0x80 : 0;
  if (payload_size < 126) {
    h[n++] = static_cast<uint8_t>(mbit | payload_size);
  } else if (payload_size <= 0xffff) {
    h[n++] = mbit | 126;
    h[n++] = static_cast<uint8_t>(payload_size >> 8);
    h[n++] = static_cast<uint8_t>(payload_size);
  } else {
    h[n++] = mbit | 127;
    for (int i = 7; i >= 0; --i) h[n++] = static_cast<uint8_t>(payload_size >> (8 * i));
  }
  if (mask) {
    std::memcpy(h + n, mask, 4);
    n += 4;
  }
  std::memcpy(end - n, h, n);
  return n;
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload, const uint8_t* mask) {
  char header[kMaxHeaderSize];
  size_t n = write_header_before(header + kMaxHeaderSize, opcode, payload.size(), mask);
  out.append(header + kMaxHeaderSize - n, n);
  size_t start = out.size();
  out.append(payload);
  if (mask) apply_mask(out.data() + start, payload.size(), mask);
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xff);
  // A close payload holds at most 125 bytes; the reason is cut before the character that does not
  // fit, never inside it (a strict client fails a close with broken UTF-8 with 1007).
  size_t cut = std::min<size_t>(reason.size(), 123);
  while (cut > 0 && cut < reason.size() && (static_cast<uint8_t>(reason[cut]) & 0xc0) == 0x80) --cut;
  out += reason.substr(0, cut);
  return out;
}

std::string sha1(std::string_view bytes) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(bytes);
  uint64_t bit_len = uint64_t(bytes.size()) * 8;
  msg += static_cast<char>(0x80);
  while (msg.size() % 64 != 56) msg += '\0';
  for (int i = 7; i >= 0; --i) msg += static_cast<char>(bit_len >> (8 * i));
  auto rol = [](uint32_t v, int s) { return (v << s) | (v >> (32 - s)); };
  for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(uint8_t(msg[chunk + 4 * i])) << 24) | (uint32_t(uint8_t(msg[chunk + 4 * i + 1])) << 16) |
             (uint32_t(uint8_t(msg[chunk + 4 * i + 2])) << 8) | uint32_t(uint8_t(msg[chunk + 4 * i + 3]));
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6; }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  std::string out;
  for (uint32_t v : h)
    for (int i = 3; i >= 0; --i) out += static_cast<char>(v >> (8 * i));
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (size_t rest = bytes.size() - i) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += rest == 2 ? kTable[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  return base64(sha1(input));
}

}  // namespace exo::ws
