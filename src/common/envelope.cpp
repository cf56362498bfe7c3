#include "common/envelope.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace exo::wire {

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

uint64_t zero_bytes(uint64_t v) { return (v - kOnes) & ~v & kHighs; }

// Non-zero when a byte of `v` is '"', '\\' or a control character (never misses one; may flag
// bytes next to one, which the byte loop then sorts out).
uint64_t special_bytes(uint64_t v) {
  return zero_bytes(v ^ (kOnes * '"')) | zero_bytes(v ^ (kOnes * '\\')) | ((v - kOnes * 0x20) & ~v & kHighs);
}

Known classify(std::string_view key) {
  switch (key.size()) {
    case 2: if (key == "id") return Known::id; break;
    case 4:
      if (key == "name") return Known::name;
      if (key == "auth") return Known::auth;
      break;
    case 6: if (key == "sender") return Known::sender; break;
    case 7: if (key == "payload") return Known::payload; break;
    case 9: if (key == "timestamp") return Known::timestamp; break;
    case 10:
      if (key == "activityId") return Known::activity_id;
      if (key == "isSecurity") return Known::is_security;
      break;
    case 12: if (key == "responseTime") return Known::response_time; break;
  }
  return Known::other;
}
constexpr size_t kMaxFields = 64;

class Scanner {
 public:
  Scanner(std::string_view text, std::string& error) : p_(text.data()), end_(text.data() + text.size()), error_(error) {}

  bool document(Envelope* env) {
    ws();
    if (env) {
      if (p_ == end_ || *p_ != '{') return fail("a message must be a JSON object");
      if (!object(1, env)) return false;
    } else if (!value(0)) {
      return false;
    }
    ws();
    if (p_ != end_) return fail("unexpected text after the JSON value");
    return true;
  }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("invalid JSON value");
    p_ += n;
    return true;
  }

  bool hex4(uint32_t& v) {
    if (end_ - p_ < 4) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("invalid \\u escape");
    }
    return true;
  }

  // Validates a string starting at the quote; sets `escaped` when it holds a backslash.
  bool string(bool& escaped) {
    ++p_;  // opening quote
    escaped = false;
    while (true) {
      // Fast path over plain ASCII, sixteen or eight bytes at a time.
#if defined(__SSE2__)
      while (end_ - p_ >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        // Signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches every non-ASCII byte.
        special = _mm_or_si128(special, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        if (_mm_movemask_epi8(special)) break;
        p_ += 16;
      }
#endif
      while (end_ - p_ >= 8) {
        uint64_t v;
        std::memcpy(&v, p_, 8);
        if (special_bytes(v) | (v & kHighs)) break;
        p_ += 8;
      }
      while (p_ < end_) {
        auto c = static_cast<unsigned char>(*p_);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++p_;
      }
      if (p_ == end_) return fail("unterminated string");
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        escaped = true;
        if (++p_ == end_) return fail("unterminated string");
        char e = *p_++;
        if (e == 'u') {
          uint32_t v;
          if (!hex4(v)) return false;
          if (v >= 0xD800 && v <= 0xDBFF) {
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return fail("unpaired surrogate in a \\u escape");
            p_ += 2;
            uint32_t lo;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate in a \\u escape");
          } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return fail("unpaired surrogate in a \\u escape");
          }
        } else if (!std::strchr("\"\\/bfnrt", e) || e == '\0') {
          return fail("invalid escape in a string");
        }
        continue;
      }
      if (!utf8()) return false;
    }
  }

  bool utf8() {
    auto b0 = static_cast<unsigned char>(*p_);
    int n;
    uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) { n = 1; cp = b0 & 0x1F; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { n = 2; cp = b0 & 0x0F; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { n = 3; cp = b0 & 0x07; }
    else return fail("invalid UTF-8");
    if (end_ - p_ < n + 1) return fail("invalid UTF-8");
    for (int i = 1; i <= n; ++i) {
      auto b = static_cast<unsigned char>(p_[i]);
      if ((b & 0xC0) != 0x80) return fail("invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return fail("invalid UTF-8");
    }
    p_ += n + 1;
    return true;
  }

  bool number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_) return fail("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return fail("invalid number");
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      // Exponents beyond 32 bits are refused, as Boost.JSON (the SDK's parser) refuses them: what
      // the bus forwards, every client can read.
      int64_t exponent = 0;
      for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
        exponent = exponent * 10 + (*p_ - '0');
        if (exponent > 2147483647) return fail("number exponent out of range");
      }
    }
    return true;
  }

  bool value(int depth, JsonType* type = nullptr, bool* escaped = nullptr) {
    if (p_ == end_) return fail("unexpected end of JSON");
    JsonType t;
    switch (*p_) {
      case '{': t = JsonType::object; if (!object(depth + 1, nullptr)) return false; break;
      case '[': t = JsonType::array; if (!array(depth + 1)) return false; break;
      case '"': {
        t = JsonType::string;
        bool e;
        if (!string(e)) return false;
        if (escaped) *escaped = e;
        break;
      }
      case 't': t = JsonType::boolean; if (!literal("true")) return false; break;
      case 'f': t = JsonType::boolean; if (!literal("false")) return false; break;
      case 'n': t = JsonType::null; if (!literal("null")) return false; break;
      default: t = JsonType::number; if (!number()) return false;
    }
    if (type) *type = t;
    return true;
  }

  // `depth` is the container's own level: 1 at the top.
  bool array(int depth) {
    if (depth > kMaxDepth) return fail("JSON nested more than 64 levels deep");
    ++p_;
    ws();
    if (p_ < end_ && *p_ == ']') { ++p_; return true; }
    while (true) {
      ws();
      if (!value(depth)) return false;
      ws();
      if (p_ == end_) return fail("unterminated array");
      if (*p_ == ',') { ++p_; continue; }
      if (*p_ == ']') { ++p_; return true; }
      return fail("expected ',' or ']' in an array");
    }
  }

  bool object(int depth, Envelope* env) {
    if (depth > kMaxDepth) return fail("JSON nested more than 64 levels deep");
    ++p_;
    ws();
    if (p_ < end_ && *p_ == '}') { ++p_; return true; }
    while (true) {
      ws();
      if (p_ == end_ || *p_ != '"') return fail("expected a quoted key in an object");
      const char* key_start = p_;
      bool escaped;
      if (!string(escaped)) return false;
      std::string_view key_raw(key_start, static_cast<size_t>(p_ - key_start));
      ws();
      if (p_ == end_ || *p_ != ':') return fail("expected ':' after a key");
      ++p_;
      ws();
      const char* value_start = p_;
      JsonType type;
      bool value_escaped = false;
      if (!value(depth, &type, &value_escaped)) return false;
      if (env) {
        // An envelope has a handful of fields; the cap keeps the duplicate check cheap.
        if (env->fields.size() >= kMaxFields) return fail("too many fields in the message");
        Field f;
        if (escaped) {
          env->escaped_keys_.emplace_back();
          decode_json_string(key_raw, env->escaped_keys_.back());
          f.key = env->escaped_keys_.back();
        } else {
          f.key = key_raw.substr(1, key_raw.size() - 2);
        }
        f.value = std::string_view(value_start, static_cast<size_t>(p_ - value_start));
        f.type = type;
        f.known = classify(f.key);
        f.escaped = value_escaped;
        if (f.known != Known::other) {
          auto bit = 1u << static_cast<unsigned>(f.known);
          if (known_seen_ & bit) return fail("duplicate key in the message");
          known_seen_ |= bit;
        } else {
          for (const auto& other : env->fields)
            if (other.known == Known::other && other.key == f.key) return fail("duplicate key in the message");
        }
        env->fields.push_back(f);
      }
      ws();
      if (p_ == end_) return fail("unterminated object");
      if (*p_ == ',') { ++p_; continue; }
      if (*p_ == '}') { ++p_; return true; }
      return fail("expected ',' or '}' in an object");
    }
  }

  const char* p_;
  const char* end_;
  std::string& error_;
  unsigned known_seen_ = 0;
};

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

uint32_t parse_hex4(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
    else v |= static_cast<uint32_t>(c - 'A' + 10);
  }
  return v;
}

// A known text field: a string (decoded), or null/absent (empty). Anything else is an error.
bool text_field(const Field* f, std::string_view& out, std::string& storage, const char* key, std::string& error) {
  out = {};
  if (!f || f->type == JsonType::null) return true;
  if (f->type != JsonType::string) {
    error = std::string("'") + key + "' must be text";
    return false;
  }
  if (!f->escaped) {
    out = f->value.substr(1, f->value.size() - 2);
  } else {
    decode_json_string(f->value, storage);
    out = storage;
  }
  return true;
}

}  // namespace

bool decode_json_string(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.size() < 2) return false;
  const char* p = raw.data() + 1;
  const char* end = raw.data() + raw.size() - 1;
  while (p < end) {
    if (*p != '\\') {
      out += *p++;
      continue;
    }
    ++p;
    char e = *p++;
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = parse_hex4(p);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6) {
          uint32_t lo = parse_hex4(p + 2);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        }
        append_utf8(out, cp);
        break;
      }
      default: out += e;
    }
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.size() - i >= 8) {
      uint64_t v;
      std::memcpy(&v, s.data() + i, 8);
      if (!special_bytes(v)) {
        i += 7;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void Envelope::clear() {
  fields.clear();
  name = id = activity_id = sender = {};
  payload = auth = id_field = activity_field = nullptr;
  if (!escaped_keys_.empty()) escaped_keys_.clear();
  is_security = false;
  has_id = false;
}

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

const Field* Envelope::find(std::string_view key) const {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

bool scan(std::string_view text, Envelope& out, std::string& error) {
  out.clear();
  error.clear();
  Scanner scanner(text, error);
  if (!scanner.document(&out)) return false;
  const Field *name = nullptr, *sender = nullptr;
  for (const auto& f : out.fields) {
    switch (f.known) {
      case Known::name: name = &f; break;
      case Known::id: out.id_field = &f; break;
      case Known::activity_id: out.activity_field = &f; break;
      case Known::sender: sender = &f; break;
      case Known::payload: out.payload = &f; break;
      case Known::auth: out.auth = &f; break;
      case Known::is_security:
        if (f.type == JsonType::boolean) out.is_security = f.value == "true";
        else if (f.type != JsonType::null) return error = "'isSecurity' must be true or false", false;
        break;
      default: break;
    }
  }
  if (!text_field(name, out.name, out.decoded_[0], "name", error)) return false;
  if (!text_field(out.id_field, out.id, out.decoded_[1], "id", error)) return false;
  if (!text_field(out.activity_field, out.activity_id, out.decoded_[2], "activityId", error)) return false;
  if (!text_field(sender, out.sender, out.decoded_[3], "sender", error)) return false;
  out.has_id = !out.id.empty();
  if (out.id.empty()) out.id_field = nullptr;
  if (out.activity_id.empty()) out.activity_field = nullptr;
  return true;
}

bool valid_json(std::string_view text, std::string* error) {
  std::string local;
  Scanner scanner(text, error ? *error : local);
  return scanner.document(nullptr);
}

void write_delivery(std::string& out, const Envelope& in, const Delivery& d) {
  out += "{\"name\":";
  out += d.name_json;
  out += ",\"id\":";
  out += in.id_field ? in.id_field->value : d.id_json;
  if (in.activity_field) {
    out += ",\"activityId\":";
    out += in.activity_field->value;
  }
  out += ",\"sender\":";
  out += d.sender_json;
  out += ",\"timestamp\":\"";
  out += d.timestamp;
  out += '"';
  if (d.response_time_ns > 0) {
    out += ",\"responseTime\":";
    out += std::to_string(d.response_time_ns);
  }
  for (const auto& f : in.fields) {
    switch (f.known) {
      case Known::name: case Known::id: case Known::activity_id: case Known::sender:
      case Known::timestamp: case Known::response_time:
        continue;
      default: break;
    }
    out += ',';
    append_json_string(out, f.key);
    out += ':';
    out += f.value;
  }
  out += '}';
}

}  // namespace exo::wire
