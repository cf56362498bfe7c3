// A service built outside the Exosphere tree, tested with MockExoCom: ping in, pong out.
#include <cstdio>
#include <thread>

#include <exosphere/exosphere.hpp>
#include <exosphere/testing/mock_exocom.hpp>

int main() {
  exosphere::testing::MockExoCom mock;
  exosphere::RelayConfig config;
  config.host = "127.0.0.1";
  config.port = mock.port();
  config.role = "pinger";
  exosphere::Service service(config);
  service.on("ping", [](const exosphere::json::value&, exosphere::Request& req) { req.reply("pong"); });
  std::thread runner([&] { service.run(); });
  bool ok = mock.wait_for_registration("pinger");
  auto reply = ok ? mock.request("pinger", "ping") : std::nullopt;
  service.stop();
  runner.join();
  if (!reply || reply->name != "pong") {
    std::puts("consumer: no pong");
    return 1;
  }
  std::puts("consumer: pong");
  return 0;
}
