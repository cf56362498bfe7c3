// SpaceTweet's web server: HTML pages over the users and tweets services.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "routes.hpp"

int main() {
  try {
    exosphere::Service service;
    const char* port = std::getenv("PORT");
    // exo run gives the gateway's port; a deployment gives its public URL.
    const char* gateway_port = std::getenv("EXOCOM_GATEWAY_PORT");
    const char* gateway_url = std::getenv("EXOCOM_GATEWAY_URL");
    spacetweet::Sessions sessions(spacetweet::session_key());
    spacetweet::LoginThrottle throttle;
    spacetweet::Site site{service.relay(), {gateway_port ? std::atoi(gateway_port) : 0, gateway_url ? gateway_url : ""}, sessions,
                          throttle};
    exosphere::http::Server web;
    spacetweet::add_routes(web, site);
    spacetweet::add_live_updates(service, sessions);
    // On SIGTERM the web server stops first: its requests in progress still reach the other services.
    service.on_stop([&] { web.stop(); });
    service.before_all([&] {
      auto bound = web.listen(static_cast<std::uint16_t>(port ? std::atoi(port) : 3000));
      std::printf("SpaceTweet is running at http://localhost:%u\n", bound);
      std::fflush(stdout);
    });
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << "space-tweet-web: " << e.what() << std::endl;
    return 1;
  }
}
