#include "handlers.hpp"

void register_handlers(exosphere::Service& service) {
  service.on("ping", [](const exosphere::json::value& payload, exosphere::Request& request) {
    request.reply("pong", payload);
  });
}
