#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace exo::runner {

// A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it). Ports picked while
// a PortReservation lives are all different; they are released with it.
class PortReservation {
 public:
  PortReservation() = default;
  ~PortReservation();
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;
  void hold(int fd) { fds_.push_back(fd); }

 private:
  std::vector<int> fds_;
};
uint16_t free_port(PortReservation* reservation = nullptr);
// Whether something accepts connections on 127.0.0.1:port.
bool port_open(uint16_t port);

}  // namespace exo::runner
