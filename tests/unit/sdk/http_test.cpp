// The SDK's HTTP server over real sockets.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "common/net.hpp"
#include "exosphere/http.hpp"
#include "exosphere/status.hpp"
#include "support/test_support.hpp"

using namespace exosphere::http;

namespace {

struct Reply {
  int status = 0;
  std::string head, body;
};

Reply call(uint16_t port, const std::string& raw) {
  int fd = exo::connect_loopback(port);
  if (fd < 0) return {};
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

TEST(HttpServer, HeadersCarryNoLineBreaksAndCookiesStaySeparate) {
  Server server;
  server.get("/go", [](const Request& r) { return Response::redirect(r.field("to")); });
  server.get("/two", [](const Request&) {
    return Response::text("two").set_cookie({.name = "a", .value = "1"}).set_cookie({.name = "b", .value = "2"});
  });
  auto port = server.listen(0, "127.0.0.1");
  auto injected = get(port, "/go?to=/x%0D%0ASet-Cookie:%20evil=1");
  EXPECT_EQ(injected.status, 500);
  EXPECT_EQ(injected.head.find("evil"), std::string::npos) << injected.head;
  EXPECT_EQ(get(port, "/go?to=/x").status, 302);
  auto two = get(port, "/two");
  EXPECT_NE(two.head.find("Set-Cookie: a=1; Path=/; HttpOnly; SameSite=Lax\r\nSet-Cookie: b=2;"), std::string::npos) << two.head;
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

namespace {
int connect_to(uint16_t port) { return exo::connect_loopback(port, std::chrono::milliseconds(500)); }

// Whether the server closed `fd` within `timeout` (reading whatever it sent first).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return true;
    }
  }
  return false;
}
}  // namespace

// A client that sends a byte every 100 ms never completes a request: it is cut off once the
// request timeout is up, however often it sends (a per-read timeout would keep it forever).
TEST(HttpServer, AClientTricklingBytesIsCutOffAtTheRequestTimeout) {
  ServerOptions o;
  o.request_timeout = std::chrono::milliseconds(400);
  Server server(o);
  server.get("/", [](const Request&) { return Response::text("hi"); });
  auto port = server.listen(0, "127.0.0.1");
  int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  auto start = std::chrono::steady_clock::now();
  bool cut = false;
  while (!cut && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    (void)!::send(fd, "a", 1, MSG_NOSIGNAL);
    cut = closed_within(fd, std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(cut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ::close(fd);
}

// More trickling clients than the old server had threads: a normal request is still answered.
TEST(HttpServer, TricklingClientsDoNotStallOthers) {
  Server server;
  server.get("/", [](const Request&) { return Response::text("hi"); });
  auto port = server.listen(0, "127.0.0.1");
  std::vector<int> slow;
  for (int i = 0; i < 400; ++i) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0) << i;
    (void)!::send(fd, "GET / HTTP/1.1\r\nHo", 18, MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  auto start = std::chrono::steady_clock::now();
  auto r = get(port, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  for (int fd : slow) ::close(fd);
}

TEST(HttpServer, HeaderAndBodyLimits) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 100;
  Server server(o);
  server.post("/", [](const Request& r) { return Response::text(std::to_string(r.body.size())); });
  auto port = server.listen(0, "127.0.0.1");
  EXPECT_EQ(call(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n").status, 431);
  EXPECT_EQ(post(port, "/", std::string(101, 'a')).status, 413);
  auto ok = post(port, "/", std::string(100, 'a'));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "100");
}

TEST(HttpServer, ListensOnIpv6AndHostNames) {
  Server v6;
  v6.get("/", [](const Request&) { return Response::text("six"); });
  auto port = v6.listen(0, "::1");
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[512] = {};
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 3000), 1);
  ASSERT_GT(::recv(fd, buf, sizeof buf - 1, 0), 0);
  EXPECT_NE(std::string(buf).find("six"), std::string::npos);
  ::close(fd);

  Server named;
  named.get("/", [](const Request&) { return Response::text("named"); });
  auto named_port = named.listen(0, "localhost");
  EXPECT_EQ(get(named_port, "/").body, "named");

  Server bad;
  try {
    bad.listen(0, "no-such-host.invalid");
    FAIL() << "listened";
  } catch (const exosphere::Error& e) {
    EXPECT_EQ(e.status(), exosphere::Status::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("cannot listen on 'no-such-host.invalid'"), std::string::npos) << e.what();
  }
}

// Handlers run on a pool: two requests whose handlers wait for each other both finish.
TEST(HttpServer, HandlersRunSideBySide) {
  Server server;
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  server.get("/meet", [&](const Request&) {
    std::unique_lock lock(m);
    ++arrived;
    cv.notify_all();
    bool met = cv.wait_for(lock, std::chrono::seconds(3), [&] { return arrived >= 2; });
    return Response::text(met ? "met" : "alone");
  });
  auto port = server.listen(0, "127.0.0.1");
  Reply a, b;
  std::thread first([&] { a = get(port, "/meet"); });
  std::thread second([&] { b = get(port, "/meet"); });
  first.join();
  second.join();
  EXPECT_EQ(a.body, "met");
  EXPECT_EQ(b.body, "met");
}

// stop() lets a request being handled finish and answers it; then nothing is accepted.
TEST(HttpServer, StopIsGraceful) {
  Server server;
  std::promise<void> entered;
  server.get("/slow", [&](const Request&) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return Response::text("finished");
  });
  auto port = server.listen(0, "127.0.0.1");
  Reply r;
  std::thread client([&] { r = get(port, "/slow"); });
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(3)), std::future_status::ready);
  server.stop();
  client.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "finished");
  EXPECT_LT(connect_to(port), 0) << "still accepting after stop()";
}
