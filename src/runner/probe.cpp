#include "runner/probe.hpp"

#include <array>
#include <chrono>
#include <memory>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace exo::runner {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

class Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, std::string http_path, std::string host, std::function<void(bool)> done)
      : socket_(io), timer_(io), path_(std::move(http_path)), host_(std::move(host)), done_(std::move(done)) {}

  void start(uint16_t port, std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->finish(false);
    });
    tcp::endpoint local(asio::ip::address_v4::loopback(), port);
    socket_.async_connect(local, [self = shared_from_this()](const error_code& ec) { self->on_connected(ec); });
  }

 private:
  void on_connected(const error_code& ec) {
    if (ec) return finish(false);
    if (path_.empty()) return finish(true);
    request_ = "GET " + path_ + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n\r\n";
    asio::async_write(socket_, asio::buffer(request_),
                      [self = shared_from_this()](const error_code& e, size_t) { self->on_written(e); });
  }

  void on_written(const error_code& ec) {
    if (ec) return finish(false);
    read_status();
  }

  void read_status() {
    socket_.async_read_some(asio::buffer(buffer_.data() + received_, buffer_.size() - received_),
                            [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  // "HTTP/1.1 200": twelve bytes decide.
  void on_read(const error_code& ec, size_t n) {
    received_ += n;
    if (received_ < 12) {
      if (ec) return finish(false);
      return read_status();
    }
    std::string_view head(buffer_.data(), received_);
    bool http = head.starts_with("HTTP/1.");
    int status = http ? std::atoi(std::string(head.substr(9, 3)).c_str()) : 0;
    finish(status >= 200 && status < 400);
  }

  void finish(bool ready) {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    done_(ready);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string path_, host_, request_;
  std::array<char, 64> buffer_{};
  size_t received_ = 0;
  std::function<void(bool)> done_;
  bool finished_ = false;
};

}  // namespace

void probe(asio::io_context& io, uint16_t port, const std::string& http_path, std::chrono::milliseconds timeout,
           std::function<void(bool ready)> done, const std::string& host) {
  std::make_shared<Probe>(io, http_path, host, std::move(done))->start(port, timeout);
}

}  // namespace exo::runner
