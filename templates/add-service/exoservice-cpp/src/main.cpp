// {{serviceType}}: {{description}}
#include <iostream>

#include "handlers.hpp"

int main() {
  try {
    exosphere::Service service;  // ROLE, EXOCOM_HOST and EXOCOM_PORT come from exo run
    register_handlers(service);
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << e.what() << std::endl;
    return 1;
  }
}
