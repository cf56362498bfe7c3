#include "runner/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/net.hpp"

namespace exo::runner {

namespace {
sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

PortReservation::~PortReservation() {
  for (int fd : fds_) ::close(fd);
}

uint16_t free_port(PortReservation* reservation) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = loopback(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw UserError(std::string("cannot find a free port: ") + std::strerror(errno));
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (reservation) reservation->hold(fd);
  else ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(uint16_t port) {
  int fd = connect_loopback(port, std::chrono::milliseconds(200));
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace exo::runner
