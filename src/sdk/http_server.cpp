// The HTTP server: Boost.Beast's asynchronous model, as in its advanced server example. One I/O
// thread accepts and reads and writes every connection; each connection is a Session whose async
// steps are named member functions with one error path. A request read whole goes to the handler
// pool; its response comes back to the I/O thread to be written. Slow or idle clients therefore
// hold a few kilobytes, never a thread, and cannot stall the handlers.
#include "exosphere/http.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/net.hpp"
#include "common/signals.hpp"
#include "exosphere/status.hpp"
#include "sdk/http_router.hpp"

namespace exosphere::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;


class Session;

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(o), handlers(o.handler_threads ? o.handler_threads : 1) {}

  ServerOptions options;
  Router router;  // filled before listen(), only read afterwards
  // Declared before `io`: sessions still queued in `io` when it is destroyed take themselves out.
  std::unordered_set<Session*> sessions;  // the I/O thread's alone
  // Handlers running now, so stop() can let them finish.
  std::mutex busy_mutex;
  std::condition_variable busy_changed;
  int busy = 0;
  std::atomic<bool> stopping{false};
  bool accept_failing = false;
  asio::io_context io{1};
  // Keeps the loop running while handlers work and nothing else is pending (stop() ends it).
  asio::executor_work_guard<asio::io_context::executor_type> keep_running = asio::make_work_guard(io);
  tcp::acceptor acceptor{io};
  asio::thread_pool handlers;
  std::thread io_thread;

  void accept();
  void on_accept(const error_code& ec, tcp::socket socket);

  // Stops the I/O loop once every connection is closed, or at the deadline.
  void stop_when_idle(std::chrono::steady_clock::time_point deadline) {
    if (sessions.empty() || std::chrono::steady_clock::now() > deadline) return io.stop();
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(5));
    timer->async_wait([this, timer, deadline](const error_code&) { stop_when_idle(deadline); });
  }
};

// One client connection: read a request (whole, within the timeout), have it handled, write the
// response, and again while the client keeps the connection alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void start() {
    server_.sessions.insert(this);
    read_request();
  }

  // stop(): a session between requests closes now; one whose request is being handled (or whose
  // response is being written) closes after writing its response.
  void shut() {
    if (handling_) return;
    shut_ = true;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  ~Session() { server_.sessions.erase(this); }

 private:
  void read_request() {
    if (server_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    stream_.expires_after(server_.options.request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
  }

  void on_read(const error_code& ec) {
    // A read that completed just before stop() closed the socket: nobody could be answered, so the
    // request is not handled (its client sees the connection closed, and may safely try again).
    if (shut_) return;
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    if (ec == bhttp::error::body_limit) return reply_and_close(413, "request too large\n");
    if (ec == bhttp::error::header_limit) return reply_and_close(431, "request header too large\n");
    if (ec) return reply_and_close(400, "bad request\n");
    handling_ = true;
    stream_.expires_never();  // a handler may wait on other services; the client waits for it
    auto request = std::make_shared<bhttp::request<bhttp::string_body>>(parser_->release());
    {
      std::lock_guard lock(server_.busy_mutex);
      ++server_.busy;
    }
    asio::post(server_.handlers, [self = shared_from_this(), request]() mutable {
      auto& server = self->server_;
      std::vector<std::pair<std::string, std::string>> headers;
      for (const auto& h : *request) headers.emplace_back(h.name_string(), h.value());
      Request req = make_request(request->method_string(), request->target(), request->body(), headers);
      auto response = std::make_shared<Response>(server.router.answer(req));
      // The session goes back to the I/O thread whole: no reference stays here, so it is never
      // destroyed on a handler thread.
      asio::post(server.io, [self = std::move(self), request = std::move(request), response] {
        self->on_handled(*request, std::move(*response));
      });
      std::lock_guard lock(server.busy_mutex);
      --server.busy;
      server.busy_changed.notify_all();
    });
  }

  void on_handled(const bhttp::request<bhttp::string_body>& request, Response r) {
    // A line break in a header would let text from a request (a redirect target) add headers.
    auto unsafe = [](std::string_view v) { return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; };
    if (unsafe(r.content_type) || std::any_of(r.headers.begin(), r.headers.end(),
                                               [&](const auto& h) { return unsafe(h.first) || unsafe(h.second); }))
      r = Response::text("a header of the response held a line break; refused\n", 500);
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), request.version());
    out->set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) out->insert(k, v);  // insert: several Set-Cookie headers stay several
    out->body() = std::move(r.body);
    out->keep_alive(request.keep_alive() && !server_.stopping);
    out->prepare_payload();
    write(out);
  }

  void reply_and_close(int status, const std::string& text) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
    out->set(bhttp::field::content_type, "text/plain");
    out->body() = text;
    out->keep_alive(false);
    out->prepare_payload();
    write(out);
  }

  void write(const std::shared_ptr<bhttp::response<bhttp::string_body>>& out) {
    handling_ = true;
    stream_.expires_after(server_.options.request_timeout);  // a client that never reads is let go
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out](const error_code& ec, size_t) {
      self->on_write(ec, out->keep_alive());
    });
  }

  void on_write(const error_code& ec, bool keep_alive) {
    handling_ = false;  // only now: stop() cutting a response off mid-write would lose it
    if (ec || !keep_alive) return close();
    read_request();
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  Server::Impl& server_;  // owns the I/O context that owns every session
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool handling_ = false;
  bool shut_ = false;  // closed by stop() between requests
};

void Server::Impl::accept() {
  acceptor.async_accept(io, [this](const error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void Server::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopping || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: say so once, try again shortly, keep serving.
    if (!accept_failing) std::cerr << "exosphere: accepting a connection failed: " << ec.message() << "; retrying" << std::endl;
    accept_failing = true;
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
    timer->async_wait([this, timer](const error_code&) {
      if (!stopping) accept();
    });
    return;
  }
  accept_failing = false;
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<Session>(*this, std::move(socket))->start();
  accept();
}

// The handler pool's threads start here, in whatever thread builds the server: they must not
// take the stop signals meant for Service::run.
Server::Server(ServerOptions options) {
  exo::StopSignalsBlocked blocked;
  impl_ = std::make_shared<Impl>(options);
}
Server::~Server() { stop(); }

void Server::get(const std::string& p, Handler h) { impl_->router.add("GET", p, std::move(h)); }
void Server::post(const std::string& p, Handler h) { impl_->router.add("POST", p, std::move(h)); }
void Server::put(const std::string& p, Handler h) { impl_->router.add("PUT", p, std::move(h)); }
void Server::del(const std::string& p, Handler h) { impl_->router.add("DELETE", p, std::move(h)); }
void Server::files(const std::string& prefix, const std::string& dir) { impl_->router.files(prefix, dir); }

std::uint16_t Server::listen(std::uint16_t port, const std::string& host) {
  if (impl_->io_thread.joinable()) throw Error(Status::invalid_argument, "this server already listens");
  error_code ec;
  tcp::resolver resolver(impl_->io);
  auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty())
    throw Error(Status::invalid_argument, "cannot listen on '" + host + "': " + (ec ? ec.message() : "no address"));
  tcp::endpoint endpoint = found.begin()->endpoint();
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acc.close(ignored);
    throw Error(Status::invalid_argument, "cannot listen on port " + std::to_string(port) + " of '" + host + "': " + ec.message());
  }
  exo::raise_open_file_limit();
  impl_->accept();
  impl_->io_thread = exo::quiet_thread([impl = impl_.get()] { impl->io.run(); });
  return acc.local_endpoint().port();
}

void Server::stop() {
  auto& s = *impl_;
  if (s.stopping.exchange(true) || !s.io_thread.joinable()) return;
  // No new connections; idle ones close now; those being handled close after their response.
  asio::post(s.io, [&s] {
    error_code ignored;
    s.acceptor.close(ignored);
    for (Session* session : std::vector<Session*>(s.sessions.begin(), s.sessions.end())) session->shut();
  });
  {
    std::unique_lock lock(s.busy_mutex);
    s.busy_changed.wait_for(lock, s.options.shutdown_grace, [&] { return s.busy == 0; });
  }
  // The last responses are written (for a moment at most), then everything stops.
  asio::post(s.io, [&s] { s.stop_when_idle(std::chrono::steady_clock::now() + std::chrono::milliseconds(500)); });
  s.io_thread.join();
  s.handlers.stop();
  s.handlers.join();
}

}  // namespace exosphere::http
