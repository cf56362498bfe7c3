#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/files.hpp"

namespace exo::test {

// A real PostgreSQL server from Debian's binaries, in a temporary folder, on a free port. As root
// (CI), it runs as the unprivileged `postgres` user, which PostgreSQL requires.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  std::string url() const;
  uint16_t port() const { return port_; }
  void stop();
  void start();
  static bool available();

 private:
  std::unique_ptr<TempDir> dir_;
  uint16_t port_ = 0;
  bool running_ = false;
};

}  // namespace exo::test
