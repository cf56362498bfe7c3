#include "web.hpp"

#include <chrono>

using exosphere::http::Request;
using exosphere::http::Response;
using exosphere::http::escape_html;

namespace {

std::string page(const std::string& title, const std::string& body) {
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + escape_html(title) +
         "</title></head>\n<body>\n" + body + "\n</body></html>\n";
}

}  // namespace

void add_routes(exosphere::http::Server& web, exosphere::Relay& bus) {
  web.get("/", [](const Request&) {
    return Response::html(page("{{appName}}", "<h1>{{appName}}</h1>\n<p>{{description}}</p>\n"
                                              "<p><a href=\"/ping\">Ping a service over the bus</a></p>"));
  });
  // A request that travels through the bus: ping out, pong back.
  web.get("/ping", [&bus](const Request&) {
    try {
      auto reply = bus.request("ping", exosphere::json::object{ {"from", "{{serviceRole}}"} }, std::chrono::seconds(5)).get();
      return Response::html(page("ping", "<p>The bus answered <strong>" + escape_html(reply.name) + "</strong> from " +
                                             escape_html(reply.sender) + ".</p>"));
    } catch (const exosphere::Error& e) {
      return Response::html(page("ping", "<p>No answer: " + escape_html(e.what()) + "</p>"), 504);
    }
  });
}
