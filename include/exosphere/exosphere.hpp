// Exosphere C++ SDK: write a service that talks to ExoCom.
//
//   exosphere::Service service;
//   service.on("ping", [](const auto&, exosphere::Request& req) { req.reply("pong"); });
//   return service.run();
#pragma once

#include "exosphere/message.hpp"
#include "exosphere/relay.hpp"
#include "exosphere/service.hpp"
#include "exosphere/status.hpp"
