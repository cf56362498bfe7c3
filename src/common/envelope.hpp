#pragma once

// The ExoCom message envelope, read without building a JSON tree: one strict pass validates the
// whole text (RFC 8259, UTF-8) and records where each top-level field's value lies, so the bus can
// forward payloads byte for byte and only rewrite the fields it owns.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace exo::wire {

// The deepest a message may nest objects and arrays, its envelope being the first level (so a
// payload has 63 at most). ExoCom refuses deeper messages; the SDK parses with the same limit and
// refuses to send deeper payloads.
constexpr int kMaxDepth = 64;

enum class JsonType : uint8_t { null, boolean, number, string, array, object };

// The fields the bus owns or reads; everything else is `other` and forwarded untouched.
enum class Known : uint8_t { other, name, id, activity_id, sender, payload, auth, is_security, timestamp, response_time };

struct Field {
  std::string_view key;    // decoded
  std::string_view value;  // the raw JSON text of the value
  JsonType type;
  Known known;
  bool escaped;            // a string value holding escapes
};

// A scanned message. Views point into the scanned text, which must outlive the Envelope.
struct Envelope {
  std::vector<Field> fields;  // every top-level field, in order
  std::string_view name, id, activity_id, sender;  // decoded text; empty when absent or null
  const Field* payload = nullptr;
  const Field* auth = nullptr;
  const Field* id_field = nullptr;
  const Field* activity_field = nullptr;
  bool is_security = false;
  bool has_id = false;

  void clear();
  const Field* find(std::string_view key) const;

  // Storage behind the views above for the rare texts that hold escapes; scan() fills it.
  std::string decoded_[4];
  std::deque<std::string> escaped_keys_;
};

// Scans `text`. On failure returns false with `error` saying what is wrong (one line). A message
// that is valid JSON but has a known field of the wrong type also fails ("'id' must be text").
bool scan(std::string_view text, Envelope& out, std::string& error);
// Validates any JSON text (used for payload checks and tests).
bool valid_json(std::string_view text, std::string* error = nullptr);
// Appends `s` as a JSON string literal.
void append_json_string(std::string& out, std::string_view s);
// Decodes the raw JSON string literal `raw` (with quotes) into `out`.
bool decode_json_string(std::string_view raw, std::string& out);

// How a delivered message is written: the envelope's fields with the ones ExoCom owns replaced.
// Names come already quoted (JSON string literals), so each is escaped once, not per message.
struct Delivery {
  std::string_view name_json;       // as the receiver knows it
  std::string_view sender_json;     // the registered role of the sending connection
  std::string_view id_json;         // used when the envelope has none
  std::string_view timestamp;       // RFC 3339 with nanoseconds, unquoted
  int64_t response_time_ns = 0;     // written only when > 0
};
// `s` as a JSON string literal.
std::string quoted(std::string_view s);
void write_delivery(std::string& out, const Envelope& in, const Delivery& d);

}  // namespace exo::wire
