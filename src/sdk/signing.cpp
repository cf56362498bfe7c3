#include "exosphere/signing.hpp"

#include <sodium.h>

#include "common/ids.hpp"
#include "exosphere/status.hpp"

namespace exosphere {

namespace {

struct SodiumReady {
  SodiumReady() {
    if (sodium_init() < 0) throw Error(Status::config_error, "libsodium could not start (no source of randomness)");
  }
};
void ensure_sodium() { static SodiumReady ready; }

}  // namespace

Signer::Signer(std::string_view key) {
  ensure_sodium();
  if (key.size() < 32)
    throw Error(Status::invalid_argument, "a signing key needs at least 32 characters, not " + std::to_string(key.size()));
  // Any length of secret becomes one HMAC key.
  crypto_generichash(key_.data(), key_.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr, 0);
}

std::string Signer::mac(std::string_view text) const {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(out, reinterpret_cast<const unsigned char*>(text.data()), text.size(), key_.data());
  return base64url(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

bool Signer::same_mac(std::string_view text, std::string_view given) const { return exo::same_secret(given, mac(text)); }

std::string Signer::sign(std::string_view text) const {
  if (text.find('.') != std::string_view::npos) throw Error(Status::invalid_argument, "signed text cannot hold a '.'");
  return std::string(text) + "." + mac(text);
}

std::optional<std::string> Signer::verify(std::string_view token) const {
  auto dot = token.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view text = token.substr(0, dot);
  if (!same_mac(text, token.substr(dot + 1))) return std::nullopt;
  return std::string(text);
}

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  exo::random_bytes(raw.data(), raw.size());
  return base64url(raw);
}

std::string base64url(std::string_view bytes) {
  ensure_sodium();
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
  ensure_sodium();
  std::string out(text.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &length,
                        nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return std::nullopt;
  out.resize(length);
  return out;
}

}  // namespace exosphere
