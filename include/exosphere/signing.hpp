#pragma once

// Signed tokens for what a service hands out and must recognise when it comes back unchanged:
// session cookies, form tokens, links. HMAC-SHA-256 (libsodium), text in base64url.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace exosphere {

class Signer {
 public:
  // `key`: at least 32 characters of secret (a random string from `exo configure`, a key file);
  // Error(invalid_argument) when shorter.
  explicit Signer(std::string_view key);

  // "<text>.<mac>": `text` must not hold a '.', so base64url or plain words.
  std::string sign(std::string_view text) const;
  // The text of a token this key signed; nothing for any other string (compared in constant time).
  std::optional<std::string> verify(std::string_view token) const;
  // The MAC of `text` alone, base64url (a token derived from something the server already knows).
  std::string mac(std::string_view text) const;
  bool same_mac(std::string_view text, std::string_view mac) const;

 private:
  std::array<unsigned char, 32> key_{};
};

// `bytes` random bytes from the system's generator, in base64url.
std::string random_token(std::size_t bytes = 24);
std::string base64url(std::string_view bytes);
// Nothing when `text` is not base64url.
std::optional<std::string> from_base64url(std::string_view text);

}  // namespace exosphere
