#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <exosphere/testing/mock_exocom.hpp>

#include "web.hpp"

namespace {
// A plain HTTP GET to 127.0.0.1: status line and body.
std::string get(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}
}  // namespace

TEST({{serviceIdentifier}}, HomePage) {
  exosphere::testing::MockExoCom exocom;
  exosphere::RelayConfig config;
  config.host = "127.0.0.1";
  config.port = exocom.port();
  config.role = "{{serviceRole}}";
  exosphere::Relay bus(config);
  exosphere::http::Server web;
  add_routes(web, bus);
  auto port = web.listen(0, "127.0.0.1");
  auto page = get(port, "/");
  EXPECT_NE(page.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(page.find("<h1>{{appName}}</h1>"), std::string::npos);
}

TEST({{serviceIdentifier}}, PingTravelsThroughTheBus) {
  exosphere::testing::MockExoCom exocom;
  exocom.reply_to("ping", "pong");
  exosphere::RelayConfig config;
  config.host = "127.0.0.1";
  config.port = exocom.port();
  config.role = "{{serviceRole}}";
  exosphere::Relay bus(config);
  bus.start();
  ASSERT_TRUE(bus.wait_online(std::chrono::seconds(5)));
  exosphere::http::Server web;
  add_routes(web, bus);
  auto port = web.listen(0, "127.0.0.1");
  auto page = get(port, "/ping");
  EXPECT_NE(page.find("The bus answered <strong>pong</strong>"), std::string::npos) << page;
}
