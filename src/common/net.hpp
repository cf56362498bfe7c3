#pragma once

// The few socket chores shared by the runner, the SDK, the tests and the benchmarks.

#include <chrono>
#include <cstdint>

namespace exo {

// A TCP connection to 127.0.0.1:port (TCP_NODELAY set, blocking), or -1 when nothing accepts it
// within `timeout`.
int connect_loopback(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Raises this process's soft limit of open files to its hard limit: a server (or a benchmark)
// holds a descriptor per connection, and the usual soft limit is 1,024.
void raise_open_file_limit();

}  // namespace exo
