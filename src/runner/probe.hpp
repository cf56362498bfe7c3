#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace exo::runner {

// One readiness check of a service, without blocking the supervisor's event loop: a TCP connect
// to 127.0.0.1:port and, when `http_path` is set, a GET (Host: `host`) whose status must be 2xx or
// 3xx. `done(ready)` runs once, on the loop, within `timeout`.
void probe(boost::asio::io_context& io, uint16_t port, const std::string& http_path, std::chrono::milliseconds timeout,
           std::function<void(bool ready)> done, const std::string& host = "127.0.0.1");

}  // namespace exo::runner
