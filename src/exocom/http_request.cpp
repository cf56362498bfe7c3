#include "exocom/http_request.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "common/ids.hpp"
#include "common/text.hpp"

namespace exo::exocom {

namespace http = boost::beast::http;

bool header_has_token(std::string_view value, std::string_view token) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    auto part = value.substr(pos, comma - pos);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (part.size() == token.size() && std::equal(part.begin(), part.end(), token.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
    pos = comma + 1;
  }
  return false;
}

RequestHead read_request_head(std::string_view in, size_t max_head_bytes) {
  RequestHead head;
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    head.status = in.size() > max_head_bytes ? RequestHead::Status::too_large : RequestHead::Status::incomplete;
    return head;
  }
  if (end + 4 > max_head_bytes) {
    head.status = RequestHead::Status::too_large;
    return head;
  }
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(static_cast<std::uint32_t>(max_head_bytes));
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(in.data(), end + 4), ec);
  if (ec || !parser.is_header_done()) {
    head.status = RequestHead::Status::malformed;
    return head;
  }
  const auto& req = parser.get();
  head.status = RequestHead::Status::complete;
  head.size = end + 4;
  head.method = std::string(req.method_string());
  std::string_view target = req.target();
  size_t question = target.find('?');
  head.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) head.query = std::string(target.substr(question + 1));
  head.authorization = std::string(req[http::field::authorization]);
  head.upgrade_websocket = header_has_token(req[http::field::upgrade], "websocket");
  head.connection_upgrade = header_has_token(req[http::field::connection], "upgrade");
  head.key = std::string(req[http::field::sec_websocket_key]);
  head.version = std::string(req[http::field::sec_websocket_version]);
  head.origin = std::string(req[http::field::origin]);
  return head;
}

bool presents_token(const RequestHead& head, std::string_view token) {
  std::string_view given = head.authorization.starts_with("Bearer ") ? std::string_view(head.authorization).substr(7)
                                                                     : query_value(head.query, "token");
  return same_secret(given, token);
}

Action route_request(const RequestHead& head, bool gateway_port) {
  bool get = head.method == "GET";
  auto handshake = [&] {
    if (!head.connection_upgrade || head.key.empty()) return Action::bad_handshake;
    if (head.version != "13") return Action::wrong_version;
    return Action::upgrade;
  };
  if (gateway_port) {
    if (head.path == "/exocom.js") return Action::exocom_js;
    if (!head.upgrade_websocket || !get) return Action::gateway_only;
    return handshake();
  }
  if (head.path == "/services" || head.path == "/services/") {
    if (!head.upgrade_websocket || !get) return Action::upgrade_required;
    return handshake();
  }
  if (head.path == "/observe") {
    if (!head.upgrade_websocket || !get) return Action::upgrade_required;
    Action a = handshake();
    return a == Action::upgrade ? Action::observe : a;
  }
  if (head.path == "/config.json") return Action::config_json;
  if (head.path == "/status") return Action::status;
  if (head.path == "/metrics") return Action::metrics;
  return Action::not_found;
}

}  // namespace exo::exocom
