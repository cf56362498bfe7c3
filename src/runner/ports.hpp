#pragma once

#include <cstdint>
#include <string>

namespace exo::runner {

// A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it).
uint16_t free_port();
// Whether something accepts connections on 127.0.0.1:port.
bool port_open(uint16_t port);
// The status code of GET http://127.0.0.1:port<path>, or 0 when nothing answers.
int http_status(uint16_t port, const std::string& path);

}  // namespace exo::runner
