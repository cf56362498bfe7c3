#include <gtest/gtest.h>

#include "common/websocket.hpp"

using namespace exo;

namespace {

struct Recorder : ws::Events {
  std::vector<std::string> events;
  void on_text(std::string_view m) override { events.push_back("text:" + std::string(m)); }
  void on_binary(std::string_view m) override { events.push_back("binary:" + std::string(m)); }
  void on_close(uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void on_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_pong(std::string_view p) override { events.push_back("pong:" + std::string(p)); }
  void on_protocol_error(uint16_t code, std::string_view reason) override {
    events.push_back("error:" + std::to_string(code) + ":" + std::string(reason));
  }
};

const uint8_t kMask[4] = {0x11, 0x22, 0x33, 0x44};

std::string client_frame(ws::Opcode op, std::string_view payload, bool fin = true) {
  std::string f;
  ws::append_frame(f, op, payload, kMask);
  if (!fin) f[0] = static_cast<char>(f[0] & 0x7f);
  return f;
}

std::vector<std::string> decode(std::string bytes, size_t max = 1 << 20) {
  ws::Decoder d(true, max);
  Recorder r;
  size_t used = d.feed(bytes.data(), bytes.size(), r);
  if (used != bytes.size() && !d.stopped()) r.events.push_back("incomplete");
  return r.events;
}

}  // namespace

TEST(WebSocket, AcceptKeyOfTheRfcExample) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, Sha1AndBase64) {
  EXPECT_EQ(ws::base64(ws::sha1("abc")), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  EXPECT_EQ(ws::base64(""), "");
  EXPECT_EQ(ws::base64("f"), "Zg==");
  EXPECT_EQ(ws::base64("fo"), "Zm8=");
  EXPECT_EQ(ws::base64("foo"), "Zm9v");
}

TEST(WebSocket, DecodesMaskedTextOfEveryLengthForm) {
  for (size_t n : {0, 1, 125, 126, 65535, 65536, 100000}) {
    std::string payload(n, 'x');
    auto events = decode(client_frame(ws::Opcode::text, payload));
    ASSERT_EQ(events.size(), 1u) << n;
    EXPECT_EQ(events[0], "text:" + payload);
  }
}

TEST(WebSocket, ManyFramesInOneBuffer) {
  auto events = decode(client_frame(ws::Opcode::text, "a") + client_frame(ws::Opcode::ping, "p") +
                       client_frame(ws::Opcode::text, "b"));
  EXPECT_EQ(events, (std::vector<std::string>{"text:a", "ping:p", "text:b"}));
}

TEST(WebSocket, PartialFramesWaitForMoreBytes) {
  std::string f = client_frame(ws::Opcode::text, std::string(300, 'y'));
  ws::Decoder d(true, 1 << 20);
  Recorder r;
  std::string buf;
  for (char c : f) {
    buf += c;
    size_t used = d.feed(buf.data(), buf.size(), r);
    buf.erase(0, used);
  }
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0], "text:" + std::string(300, 'y'));
}

TEST(WebSocket, FragmentsAreJoinedAroundControlFrames) {
  auto events = decode(client_frame(ws::Opcode::text, "hel", false) + client_frame(ws::Opcode::ping, "") +
                       client_frame(ws::Opcode::continuation, "lo", false) +
                       client_frame(ws::Opcode::continuation, "!", true));
  EXPECT_EQ(events, (std::vector<std::string>{"ping:", "text:hello!"}));
}

TEST(WebSocket, CloseFrames) {
  EXPECT_EQ(decode(client_frame(ws::Opcode::close, "")), (std::vector<std::string>{"close:1005:"}));
  EXPECT_EQ(decode(client_frame(ws::Opcode::close, ws::close_payload(1000, "bye"))),
            (std::vector<std::string>{"close:1000:bye"}));
  EXPECT_EQ(decode(client_frame(ws::Opcode::close, "x"))[0].substr(0, 11), "error:1002:");
  EXPECT_EQ(decode(client_frame(ws::Opcode::close, ws::close_payload(1005, "")))[0], "error:1002:invalid close code");
  // Nothing is read after a close frame.
  EXPECT_EQ(decode(client_frame(ws::Opcode::close, "") + client_frame(ws::Opcode::text, "late")).size(), 1u);
}

namespace {
// Whether `s` is well-formed UTF-8 (what a strict client checks in a close reason).
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}
}  // namespace

// A long reason (a role name with accents, a message name in Japanese) is cut to fit 123 bytes at
// a character boundary, whatever the width of the character at the cut.
TEST(WebSocket, CloseReasonsAreCutBetweenCharacters) {
  for (std::string unit : {"é", "日", "😀"}) {
    for (size_t prefix = 0; prefix < 4; ++prefix) {
      std::string reason = "unknown role '" + std::string(prefix, 'x');
      while (reason.size() < 200) reason += unit;
      std::string payload = ws::close_payload(1008, reason);
      ASSERT_LE(payload.size(), 125u);
      std::string_view cut = std::string_view(payload).substr(2);
      EXPECT_TRUE(valid_utf8(cut)) << unit << " after " << prefix;
      EXPECT_GT(cut.size(), 123u - unit.size()) << "cut more than one character";
      EXPECT_EQ(reason.substr(0, cut.size()), cut);
    }
  }
  EXPECT_EQ(ws::close_payload(1000, "short").substr(2), "short");
}

TEST(WebSocket, ProtocolErrors) {
  EXPECT_EQ(decode(std::string("\x81\x01x", 3))[0], "error:1002:client frames must be masked");
  EXPECT_EQ(decode(client_frame(ws::Opcode::continuation, "x"))[0], "error:1002:continuation frame without a message");
  EXPECT_EQ(decode(client_frame(ws::Opcode::text, "a", false) + client_frame(ws::Opcode::text, "b"))[0],
            "error:1002:new message before the previous one ended");
  EXPECT_EQ(decode(client_frame(ws::Opcode::ping, std::string(126, 'p')))[0], "error:1002:control frame too long");
  EXPECT_EQ(decode(client_frame(ws::Opcode::ping, "p", false))[0], "error:1002:control frames must not be fragmented");
  EXPECT_EQ(decode(client_frame(static_cast<ws::Opcode>(11), "x"))[0], "error:1002:unknown opcode");
  std::string rsv = client_frame(ws::Opcode::text, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  EXPECT_EQ(decode(rsv)[0], "error:1002:reserved bits set without an extension");
  // 126 announces a 16-bit length, which must then be at least 126.
  std::string non_minimal = std::string("\x81\xfe\x00\x05", 4) + std::string(4, '\0') + "hello";
  EXPECT_EQ(decode(non_minimal)[0], "error:1002:length not minimally encoded");
}

TEST(WebSocket, MessageSizeLimit) {
  EXPECT_EQ(decode(client_frame(ws::Opcode::text, std::string(101, 'x')), 100)[0], "error:1009:message too big");
  EXPECT_EQ(decode(client_frame(ws::Opcode::text, std::string(60, 'x'), false) +
                       client_frame(ws::Opcode::continuation, std::string(60, 'x')),
                   100)[0],
            "error:1009:message too big");
}

TEST(WebSocket, ServerFramesAreUnmasked) {
  std::string f;
  ws::append_frame(f, ws::Opcode::text, "hi");
  EXPECT_EQ(f, std::string("\x81\x02hi", 4));
  ws::Decoder client(false, 1 << 20);
  Recorder r;
  client.feed(f.data(), f.size(), r);
  EXPECT_EQ(r.events, (std::vector<std::string>{"text:hi"}));
}

TEST(WebSocket, MaskingWithAnOffset) {
  std::string data = "abcdefghijklmnopqrstuvwxyz";
  std::string whole = data, parts = data;
  ws::apply_mask(whole.data(), whole.size(), kMask);
  ws::apply_mask(parts.data(), 5, kMask, 0);
  ws::apply_mask(parts.data() + 5, parts.size() - 5, kMask, 5);
  EXPECT_EQ(whole, parts);
}
