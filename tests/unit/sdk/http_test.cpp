// The SDK's HTTP server over real sockets.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exosphere/http.hpp"
#include "support/test_support.hpp"

using namespace exosphere::http;

namespace {

struct Reply {
  int status = 0;
  std::string head, body;
};

Reply call(uint16_t port, const std::string& raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  (void)!::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  Reply r;
  if (resp.size() < 12) return r;
  r.status = std::stoi(resp.substr(9, 3));
  auto end = resp.find("\r\n\r\n");
  r.head = resp.substr(0, end);
  r.body = end == std::string::npos ? "" : resp.substr(end + 4);
  return r;
}

Reply get(uint16_t port, const std::string& path) {
  return call(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

Reply post(uint16_t port, const std::string& path, const std::string& form) {
  return call(port, "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
                    "application/x-www-form-urlencoded\r\nContent-Length: " + std::to_string(form.size()) + "\r\n\r\n" + form);
}

}  // namespace

TEST(HttpServer, RoutesWithParametersAndForms) {
  Server server;
  server.get("/", [](const Request&) { return Response::html("<h1>home</h1>"); });
  server.get("/users/:id", [](const Request& r) { return Response::text("user " + r.params.at("id")); });
  server.post("/users", [](const Request& r) { return Response::redirect("/users/" + r.field("name")); });
  server.del("/users/:id", [](const Request& r) { return Response::text("deleted " + r.params.at("id")); });
  server.put("/users/:id", [](const Request& r) { return Response::text("renamed to " + r.field("name")); });
  auto port = server.listen(0, "127.0.0.1");
  EXPECT_EQ(get(port, "/").body, "<h1>home</h1>");
  EXPECT_EQ(get(port, "/users/42").body, "user 42");
  auto created = post(port, "/users", "name=Jean+Luc%21");
  EXPECT_EQ(created.status, 302);
  EXPECT_NE(created.head.find("Location: /users/Jean Luc!"), std::string::npos) << created.head;
  // HTML forms can only POST: _method in the query or the form picks the verb.
  EXPECT_EQ(post(port, "/users/7?_method=DELETE", "").body, "deleted 7");
  EXPECT_EQ(post(port, "/users/7", "_method=PUT&name=Picard").body, "renamed to Picard");
}

TEST(HttpServer, NotFoundMethodNotAllowedAndErrors) {
  Server server;
  server.get("/boom", [](const Request&) -> Response { throw std::runtime_error("kaput"); });
  auto port = server.listen(0, "127.0.0.1");
  EXPECT_EQ(get(port, "/nothing").status, 404);
  EXPECT_EQ(post(port, "/boom", "").status, 405);
  EXPECT_EQ(get(port, "/boom").status, 500);
  EXPECT_EQ(call(port, "NOT HTTP AT ALL\r\n\r\n").status, 400);
}

TEST(HttpServer, ServesFilesButNothingOutsideTheirFolder) {
  exo::test::Sandbox box;
  box.write("public/app.js", "console.log(1)");
  box.write("secret.txt", "no");
  Server server;
  server.files("/public", (box / "public").string());
  auto port = server.listen(0, "127.0.0.1");
  auto js = get(port, "/public/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)\n");
  EXPECT_NE(js.head.find("text/javascript"), std::string::npos);
  EXPECT_EQ(get(port, "/public/../secret.txt").status, 404);
  EXPECT_EQ(get(port, "/public/%2e%2e/secret.txt").status, 404);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Server server;
  server.get("/n", [](const Request&) { return Response::text("n"); });
  auto port = server.listen(0, "127.0.0.1");
  auto r = call(port, "GET /n HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("HTTP/1.1 200"), std::string::npos) << "second response on the same connection";
}

TEST(HttpServer, EscapesHtml) {
  EXPECT_EQ(escape_html("<script>alert(\"x\")</script> & 'y'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
  EXPECT_EQ(url_decode("a%20b+c"), "a b c");
  EXPECT_EQ(url_encode("a b/ü"), "a%20b%2F%C3%BC");
}
