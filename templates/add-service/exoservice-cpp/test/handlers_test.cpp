#include <thread>

#include <gtest/gtest.h>
#include <exosphere/testing/mock_exocom.hpp>

#include "handlers.hpp"

TEST({{serviceIdentifier}}, AnswersPingWithPong) {
  exosphere::testing::MockExoCom exocom;
  exosphere::RelayConfig config;
  config.host = "127.0.0.1";
  config.port = exocom.port();
  config.role = "{{serviceRole}}";
  exosphere::Service service(config);
  register_handlers(service);
  std::thread running([&] { service.run(); });

  ASSERT_TRUE(exocom.wait_for_registration("{{serviceRole}}"));
  auto reply = exocom.request("{{serviceRole}}", "ping", exosphere::json::object{ {"n", 1} });
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->name, "pong");
  EXPECT_EQ(reply->payload.at("n"), 1);

  service.stop();
  running.join();
}
