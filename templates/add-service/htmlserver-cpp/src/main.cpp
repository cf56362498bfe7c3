// {{serviceType}}: {{description}}
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "web.hpp"

int main() {
  try {
    exosphere::Service service;  // ROLE, EXOCOM_HOST and EXOCOM_PORT come from exo run
    exosphere::http::Server web;
    add_routes(web, service.relay());
    // On SIGTERM the web server stops first: its requests in progress still reach the other services.
    service.on_stop([&] { web.stop(); });
    const char* port = std::getenv("PORT");
    service.before_all([&] {
      auto bound = web.listen(static_cast<std::uint16_t>(port ? std::atoi(port) : 3000));
      std::printf("HTML server is running at port %u\n", bound);
      std::fflush(stdout);
    });
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << e.what() << std::endl;
    return 1;
  }
}
