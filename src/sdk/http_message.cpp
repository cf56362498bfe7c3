// The parts of the HTTP server that know nothing of sockets: escaping, forms, requests and
// responses.
#include "exosphere/http.hpp"

#include <cctype>

#include <boost/json/serialize.hpp>

namespace exosphere::http {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') out += c;
    else out += {'%', kHex[u >> 4], kHex[u & 15]};
  }
  return out;
}

namespace {
std::map<std::string, std::string> parse_form(std::string_view s, std::map<std::string, std::string>& into) {
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) amp = s.size();
    auto pair = s.substr(pos, amp - pos);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      into[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    }
    pos = amp + 1;
    if (amp == s.size()) break;
  }
  return into;
}
}  // namespace

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::map<std::string, std::string> Request::form() const {
  std::map<std::string, std::string> out;
  parse_form(query, out);
  if (header("content-type").rfind("application/x-www-form-urlencoded", 0) == 0) parse_form(body, out);
  return out;
}

std::string Request::field(const std::string& name) const {
  auto f = form();
  auto it = f.find(name);
  return it == f.end() ? "" : it->second;
}

std::string Request::cookie(const std::string& name) const {
  std::string_view all = headers.count("cookie") ? std::string_view(headers.at("cookie")) : std::string_view();
  while (!all.empty()) {
    auto end = all.find(';');
    std::string_view pair = all.substr(0, end);
    all = end == std::string_view::npos ? std::string_view() : all.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
  }
  return "";
}

Response& Response::set_cookie(const Cookie& c) {
  std::string header = c.name + "=" + c.value + "; Path=" + c.path;
  if (c.max_age.count() >= 0) header += "; Max-Age=" + std::to_string(c.max_age.count());
  if (c.http_only) header += "; HttpOnly";
  if (c.secure) header += "; Secure";
  if (!c.same_site.empty()) header += "; SameSite=" + c.same_site;
  headers.emplace_back("Set-Cookie", std::move(header));
  return *this;
}

Response Response::html(std::string body, int status) { return {status, "text/html; charset=utf-8", std::move(body), {}}; }
Response Response::text(std::string body, int status) { return {status, "text/plain; charset=utf-8", std::move(body), {}}; }
Response Response::json(const boost::json::value& value, int status) {
  return {status, "application/json", boost::json::serialize(value), {}};
}
Response Response::redirect(const std::string& location, int status) {
  return {status, "text/plain; charset=utf-8", "", {{"Location", location}}};
}
Response Response::not_found() { return text("not found\n", 404); }

}  // namespace exosphere::http
