#pragma once

#include <exosphere/exosphere.hpp>
#include <exosphere/http.hpp>

#include "pages.hpp"
#include "session.hpp"

namespace spacetweet {

// What every route needs: the bus to the users and tweets services, where pages find the
// gateway, the session keys, and the log-in throttle.
struct Site {
  exosphere::Relay& bus;
  Gateway gateway;
  const Sessions& sessions;
  LoginThrottle& throttle;
};

// The pages and forms of SpaceTweet; every one asks the users and tweets services over the bus.
void add_routes(exosphere::http::Server& web, Site& site);

// live.join {token} from a page, through the gateway: the page's gateway session joins the room
// of its user, where messages for that person only ("your tweet is posted") go.
void add_live_updates(exosphere::Service& service, const Sessions& sessions);

}  // namespace spacetweet
