#pragma once

#include <exosphere/exosphere.hpp>
#include <exosphere/http.hpp>

namespace spacetweet {

// The pages and forms of SpaceTweet; every one asks the users and tweets services over the bus.
void add_routes(exosphere::http::Server& web, exosphere::Relay& bus, int gateway_port);

}  // namespace spacetweet
