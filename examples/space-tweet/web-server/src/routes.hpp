#pragma once

#include <exosphere/exosphere.hpp>
#include <exosphere/http.hpp>

#include "pages.hpp"

namespace spacetweet {

// The pages and forms of SpaceTweet; every one asks the users and tweets services over the bus.
void add_routes(exosphere::http::Server& web, exosphere::Relay& bus, const Gateway& gateway);

}  // namespace spacetweet
