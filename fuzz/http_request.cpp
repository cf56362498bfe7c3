// libFuzzer target: HTTP requests as ExoCom and the SDK's HTTP server read them. ExoCom's request
// head reader and router must classify any bytes without crashing, and only a complete, valid
// handshake may become a WebSocket; the SDK's request builder, form parser and router must turn any
// request Beast accepts into a response, and its cookie reader and Signer must take any cookie.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "exocom/http_request.hpp"
#include "exosphere/signing.hpp"
#include "sdk/http_router.hpp"

namespace http = boost::beast::http;
using namespace exo::exocom;

namespace {

const exosphere::http::Router& router() {
  static const exosphere::http::Router r = [] {
    exosphere::http::Router r;
    auto echo = [](const exosphere::http::Request& q) {
      std::string out = q.method + " " + q.path + " " + q.query;
      for (const auto& [k, v] : q.params) out += " " + k + "=" + v;
      for (const auto& [k, v] : q.form()) out += " " + k + ":" + v;
      return exosphere::http::Response::text(out + exosphere::http::escape_html(q.body));
    };
    r.add("GET", "/", echo);
    r.add("GET", "/users/:id", echo);
    r.add("POST", "/users", echo);
    r.add("PUT", "/users/:id", echo);
    r.add("DELETE", "/users/:id/tweets/:tweet", echo);
    r.add("GET", "/boom", [](const exosphere::http::Request&) -> exosphere::http::Response { throw std::runtime_error("boom"); });
    r.files("/public", "/nonexistent-exosphere-fuzz-dir");
    return r;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  RequestHead head = read_request_head(in, 4096);
  if (head.status == RequestHead::Status::complete) {
    if (head.size > in.size() || head.size > 4096) std::abort();
    for (bool gateway : {false, true}) {
      Action a = route_request(head, gateway);
      if ((a == Action::upgrade || a == Action::observe) && (head.method != "GET" || head.key.empty() || head.version != "13" ||
                                   !head.upgrade_websocket || !head.connection_upgrade))
        std::abort();
      if (a == Action::observe && (gateway || head.path != "/observe")) std::abort();
      // The token check never reads past what it was given, whatever the headers hold.
      (void)presents_token(head, "0123456789abcdef");
    }
  }

  http::request_parser<http::string_body> parser;
  parser.header_limit(4096);
  parser.body_limit(8192);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(in.data(), in.size()), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& raw = parser.get();
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : raw) headers.emplace_back(h.name_string(), h.value());
  auto request = exosphere::http::make_request(raw.method_string(), raw.target(), raw.body(), headers);
  auto response = router().answer(request);
  if (response.status < 200 || response.status > 599) std::abort();
  (void)exosphere::http::url_encode(request.path);
  // A session cookie from anyone: read, checked against a key, never taken for signed unless it
  // was; and what the key signs comes back whole.
  static const exosphere::Signer signer("fuzzing key, thirty-two characters long");
  std::string cookie = request.cookie("session");
  if (auto text = signer.verify(cookie); text && signer.sign(*text) != cookie) std::abort();
  (void)exosphere::from_base64url(cookie);
  if (cookie.find('.') == std::string::npos && signer.verify(signer.sign(cookie)) != cookie) std::abort();
  return 0;
}
