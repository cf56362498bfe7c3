// The transport: one thread, one Connection object per TCP connection, every asynchronous step a
// named member function. Reads take whatever the socket has (many frames per system call) and
// writes send every queued frame at once (many frames per system call).
#include "exocom/server.hpp"

#include <netinet/tcp.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <set>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/websocket.hpp"
#include "exocom/broker.hpp"
#include "exocom/http_request.hpp"

namespace exo::exocom {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// The JavaScript client, served to browsers at /exocom.js (generated from clients/js/index.js).
const std::string& exocom_js();

namespace {

constexpr size_t kScratchSize = 256 * 1024;
constexpr size_t kMaxRequestHeader = 16 * 1024;
constexpr size_t kReadBudget = 1 << 20;  // bytes per readable event, so one sender cannot hog the loop
constexpr size_t kMaxIovecs = 512;
constexpr size_t kEagerFlushBytes = 64 * 1024;
// An observer further behind than this misses trace batches until it catches up.
constexpr size_t kObserverBacklog = 4u << 20;

std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers = {}) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status,
                     reason, content_type, body.size(), extra_headers, body);
}

}  // namespace

class Connection : public Peer, public ws::Events, public std::enable_shared_from_this<Connection> {
 public:
  enum class Phase { http, open, closing, closed };

  Connection(Server::Impl& server, tcp::socket socket, uint64_t id, bool browser);
  void start();
  void send_frame(const Frame& frame, Ticket ticket) override;
  void acknowledged(uint64_t count) override;
  void close(uint16_t code, std::string_view reason) override;
  void sweep(Clock::time_point now);
  // An observer's share of the trace; skipped while it has not taken the last ones (slow reader).
  void observe(const Frame& batch);
  // SIGTERM: stop taking messages once the queues are empty, then close with 1001.
  bool drained() const { return out_.empty(); }
  size_t queued_bytes() const { return out_bytes_; }
  Phase phase() const { return phase_; }

 private:
  // Reading.
  void wait_readable();
  void on_readable(const error_code& ec);
  void consume(char* data, size_t size);
  void handle_http();
  void upgrade(std::string_view key);
  void respond_and_close(std::string response);
  // ws::Events
  void on_text(std::string_view message) override;
  void on_binary(std::string_view message) override;
  void on_close(uint16_t code, std::string_view reason) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_protocol_error(uint16_t code, std::string_view reason) override;
  // Writing.
  void enqueue(Frame frame, Ticket ticket = kNoTicket);
  void schedule_flush();
  void flush();
  void wait_writable();
  void on_writable(const error_code& ec);
  // Closing.
  void start_close(uint16_t code, std::string_view reason);
  void hand_back_undelivered();
  void finish();
  void fail_later();  // finish() from a posted handler: the broker may be mid fan-out

  Server::Impl& server_;
  tcp::socket socket_;
  bool browser_;  // a browser on the gateway port, not a service
  bool observer_ = false;  // a reader of /observe: receives the trace, sends nothing that counts
  Phase phase_ = Phase::http;
  std::string in_;  // bytes received but not yet consumed
  ws::Decoder decoder_;
  std::deque<Queued> out_;
  // With receipts: frames written but not yet acknowledged, by their text frame count.
  std::deque<std::pair<uint64_t, Queued>> unacknowledged_;
  size_t unacknowledged_bytes_ = 0;
  uint64_t text_written_ = 0;  // text frames written so far (the client counts the same)
  size_t out_offset_ = 0;  // bytes of out_.front() already written
  size_t out_bytes_ = 0;
  Frame close_frame_;
  size_t close_offset_ = 0;
  bool http_response_ = false;  // an HTTP exchange: close once the response is written
  bool flush_scheduled_ = false;
  bool waiting_writable_ = false;
  bool reading_ = false;
  bool close_received_ = false;
  bool handed_back_ = false;
  Clock::time_point opened_, last_read_, closing_since_;
  bool ping_outstanding_ = false;
};

struct Server::Impl {
  Listen listen;
  Options options;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  tcp::acceptor gateway_acceptor{io};
  std::unique_ptr<Gateway> gateway;
  asio::signal_set signals{io, SIGINT, SIGTERM};
  asio::steady_timer ticker{io};
  TraceLog log;
  Broker broker;
  std::unique_ptr<Cluster> cluster;  // after the broker: gone first, its NATS thread with it
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections;
  std::set<uint64_t> observers;  // connections reading /observe
  uint64_t next_id = 1;
  std::array<char, kScratchSize> scratch;
  bool log_flush_scheduled = false;
  bool accept_failing = false;
  bool shutting_down = false;
  Clock::time_point shutdown_started;
  Clock::time_point next_metrics{};  // of the CloudWatch metrics line; unset until the first tick
  int exit_code = 0;
  bool shutdown_unclean = false;  // the stop bound passed before every queue drained

  // Receipts go out a few milliseconds after a message is accepted, so a client sending one message
  // at a time gets one receipt for many rather than a frame (and a wake-up) per message; a client
  // with many messages accepted gets its receipt at once, so it can let go of them.
  static constexpr auto kReceiptsWithin = std::chrono::milliseconds(5);
  asio::steady_timer receipts_timer{io};
  bool receipts_timed = false, receipts_posted = false;

  Impl(Listen l, config::RouteTable routes, Options o)
      : listen(std::move(l)), options(o), log(o), broker(std::move(routes), o, log) {
    broker.on_receipts_due([this](bool urgent) {
      if (urgent && !receipts_posted) {
        receipts_posted = true;
        asio::post(io, [this] {
          receipts_posted = false;
          broker.send_receipts();
        });
      }
      if (receipts_timed) return;
      receipts_timed = true;
      receipts_timer.expires_after(kReceiptsWithin);
      receipts_timer.async_wait([this](const error_code& ec) {
        receipts_timed = false;
        if (!ec) broker.send_receipts();
      });
    });
  }

  void accept() {
    acceptor.async_accept([this](const error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket), false); });
  }

  void accept_browsers() {
    gateway_acceptor.async_accept([this](const error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket), true); });
  }

  void on_accept(const error_code& ec, tcp::socket socket, bool browser) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of file descriptors and the like: say so once, keep serving the connections we have.
      if (!accept_failing) {
        log.error("accepting a connection failed: " + ec.message() + "; retrying every 100 ms");
        schedule_log_flush();
      }
      accept_failing = true;
      broker.metrics().refused["accept-failed"]++;
      retry_accept_later(browser);
      return;
    }
    if (accept_failing) {
      accept_failing = false;
      log.info("accepting connections again");
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);
    uint64_t id = next_id++;
    auto conn = std::make_shared<Connection>(*this, std::move(socket), id, browser);
    connections.emplace(id, conn);
    broker.metrics().open_sockets = connections.size();
    conn->start();
    rearm(browser);
  }

  void rearm(bool browser) {
    if (browser) accept_browsers();
    else accept();
  }

  // Accepting failed (out of file descriptors, ...): the same acceptor tries again shortly.
  void retry_accept_later(bool browser) {
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
    timer->async_wait([this, timer, browser](const error_code&) {
      if (!shutting_down) rearm(browser);
    });
  }

  void tick() {
    ticker.expires_after(std::chrono::seconds(1));
    ticker.async_wait([this](const error_code& ec) {
      if (ec) return;
      auto now = Clock::now();
      broker.tick(now);
      if (next_metrics == Clock::time_point{}) next_metrics = now + options.metrics_interval;
      if (!options.metrics_application.empty() && now >= next_metrics) {
        next_metrics = now + options.metrics_interval;
        log.record(broker.metrics_record(options.metrics_application,
                                         std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()));
      }
      std::vector<std::shared_ptr<Connection>> all;
      all.reserve(connections.size());
      for (auto& [id, c] : connections) all.push_back(c);
      for (auto& c : all) c->sweep(now);
      // Once a second, observers see the instances per role and the counters, and how many
      // deliveries were left out of the trace.
      if (!observers.empty()) {
        if (std::string counts = log.take_observed(true); !counts.empty()) send_observers(Frame::make(ws::Opcode::text, counts));
        send_observers(Frame::make(ws::Opcode::text, "{\"status\":" + status_json() + "}"));
      }
      log.new_second();
      if (shutting_down) continue_shutdown(now);
      schedule_log_flush();
      tick();
    });
  }

  void schedule_log_flush() {
    if (log_flush_scheduled) return;
    log_flush_scheduled = true;
    asio::post(io, [this] {
      log_flush_scheduled = false;
      log.flush();
      publish_observed();
    });
  }

  void add_observer(uint64_t id) {
    observers.insert(id);
    log.set_observing(true);
  }

  void remove_observer(uint64_t id) {
    observers.erase(id);
    log.set_observing(!observers.empty());
  }

  // The trace of this batch of work, serialized once, to every observer.
  void publish_observed() {
    if (observers.empty()) return;
    std::string batch = log.take_observed();
    if (!batch.empty()) send_observers(Frame::make(ws::Opcode::text, batch));
  }

  void send_observers(const Frame& frame) {
    for (uint64_t id : observers)
      if (auto it = connections.find(id); it != connections.end()) it->second->observe(frame);
  }

  std::string status_json() const {
    std::string status = broker.status_json();
    if (!cluster) return status;
    status.pop_back();  // the closing brace of the object
    return status + ",\"cluster\":" + cluster->status_json() + "}";
  }

  void removed(uint64_t id) {
    connections.erase(id);
    broker.metrics().open_sockets = connections.size();
    if (shutting_down && connections.empty()) io.stop();
  }

  void begin_shutdown() {
    if (shutting_down) return;
    shutting_down = true;
    shutdown_started = Clock::now();
    error_code ignored;
    acceptor.close(ignored);
    gateway_acceptor.close(ignored);
    if (cluster) cluster->leave();
    log.info("ExoCom shutting down");
    schedule_log_flush();
    continue_shutdown(shutdown_started);
  }

  // First every queue drains, then every connection is closed with 1001; the close handshakes
  // take the rest of the stop bound.
  void continue_shutdown(Clock::time_point now) {
    bool drained = true;
    for (auto& [id, c] : connections) drained = drained && c->drained();
    auto& limits = options.limits;
    auto drain_for = std::max(limits.stop_timeout - limits.close_timeout, limits.stop_timeout / 2);
    if (drained || now - shutdown_started > drain_for) {
      if (!drained && !shutdown_unclean) {
        // Past the bound: say what was left, and exit 1 (docs/architecture.md, "Stopping").
        size_t slow = 0, bytes = 0;
        for (auto& [id, c] : connections)
          if (!c->drained()) ++slow, bytes += c->queued_bytes();
        log.warning(fmt::format("{} connections still had {} bytes to write {} ms after SIGTERM; closing them anyway "
                                "(senders with receipts send those messages again elsewhere)",
                                slow, bytes, std::chrono::duration_cast<std::chrono::milliseconds>(drain_for).count()));
        shutdown_unclean = true;
        exit_code = 1;
      }
      std::vector<std::shared_ptr<Connection>> all;
      for (auto& [id, c] : connections) all.push_back(c);
      for (auto& c : all) c->close(ws::close_code::going_away, "ExoCom is shutting down");
    }
    if (connections.empty()) io.stop();
  }
};

Connection::Connection(Server::Impl& server, tcp::socket socket, uint64_t id, bool browser)
    : Peer(id),
      server_(server),
      socket_(std::move(socket)),
      browser_(browser),
      decoder_(true, browser ? server.gateway->options().max_message_bytes : server.options.limits.max_message_bytes),
      opened_(Clock::now()),
      last_read_(opened_) {}

void Connection::start() { wait_readable(); }

// --- reading ------------------------------------------------------------------------------

void Connection::wait_readable() {
  if (reading_ || phase_ == Phase::closed) return;
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void Connection::on_readable(const error_code& ec) {
  reading_ = false;
  if (phase_ == Phase::closed) return;
  if (ec) return finish();
  size_t budget = kReadBudget;
  while (budget > 0 && phase_ != Phase::closed) {
    error_code rec;
    size_t n = socket_.read_some(asio::buffer(server_.scratch.data(), std::min(kScratchSize, budget)), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec) return finish();  // EOF or reset: the peer is gone without a close handshake
    last_read_ = Clock::now();
    ping_outstanding_ = false;
    budget -= std::min(budget, n);
    consume(server_.scratch.data(), n);
  }
  server_.schedule_log_flush();
  if (phase_ != Phase::closed) wait_readable();
}

void Connection::consume(char* data, size_t size) {
  if (phase_ == Phase::http) {
    in_.append(data, size);
    return handle_http();
  }
  if (in_.empty()) {
    size_t used = decoder_.feed(data, size, *this);
    if (!decoder_.stopped() && used < size) in_.assign(data + used, size - used);
  } else {
    in_.append(data, size);
    size_t used = decoder_.feed(in_.data(), in_.size(), *this);
    in_.erase(0, used);
  }
  if (decoder_.stopped()) in_.clear();
  if (in_.empty() && in_.capacity() > 65536) std::string().swap(in_);
}

void Connection::handle_http() {
  RequestHead head = read_request_head(in_, kMaxRequestHeader);
  switch (head.status) {
    case RequestHead::Status::incomplete: return;
    case RequestHead::Status::too_large:
      return respond_and_close(http_response(431, "Request Header Fields Too Large", "text/plain", "request header too large\n"));
    case RequestHead::Status::malformed:
      return respond_and_close(http_response(400, "Bad Request", "text/plain", "malformed HTTP request\n"));
    case RequestHead::Status::complete: break;
  }
  std::string leftover = in_.substr(head.size);
  in_.clear();
  switch (route_request(head, browser_)) {
    case Action::exocom_js:
      return respond_and_close(http_response(200, "OK", "text/javascript; charset=utf-8", exocom_js(),
                                             "Access-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\n"));
    case Action::gateway_only:
      return respond_and_close(http_response(404, "Not Found", "text/plain",
                                             "the ExoCom gateway: connect with a WebSocket; the client is /exocom.js\n"));
    case Action::upgrade_required:
      return respond_and_close(http_response(426, "Upgrade Required", "text/plain",
                                             "connect to /services with a WebSocket client\n",
                                             "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"));
    case Action::bad_handshake:
      return respond_and_close(http_response(400, "Bad Request", "text/plain", "invalid WebSocket handshake\n"));
    case Action::wrong_version:
      return respond_and_close(http_response(426, "Upgrade Required", "text/plain", "WebSocket version 13 required\n",
                                             "Sec-WebSocket-Version: 13\r\n"));
    case Action::config_json:
      return respond_and_close(http_response(200, "OK", "application/json", server_.broker.config_json()));
    case Action::status:
      return respond_and_close(http_response(server_.shutting_down ? 503 : 200,
                                             server_.shutting_down ? "Service Unavailable" : "OK", "application/json",
                                             server_.status_json()));
    case Action::metrics:
      return respond_and_close(http_response(200, "OK", "text/plain; version=0.0.4",
                                             server_.broker.metrics_text() +
                                                 (server_.cluster ? server_.cluster->metrics_text() : std::string())));
    case Action::not_found:
      return respond_and_close(http_response(404, "Not Found", "text/plain",
                                             "ExoCom serves /services (WebSocket), /config.json, /status and /metrics\n"));
    case Action::observe:
      if (server_.options.observe_token.empty())
        return respond_and_close(http_response(404, "Not Found", "text/plain",
                                               "/observe is off: start ExoCom with EXOCOM_OBSERVE_TOKEN set\n"));
      if (!presents_token(head, server_.options.observe_token)) {
        server_.broker.metrics().refused["observe-token"]++;
        return respond_and_close(http_response(401, "Unauthorized", "text/plain", "/observe needs the token\n",
                                               "WWW-Authenticate: Bearer\r\n"));
      }
      observer_ = true;
      break;
    case Action::upgrade: break;
  }
  if (browser_) {
    if (!server_.gateway->allows_origin(head.origin)) {
      server_.broker.metrics().refused["gateway-origin"]++;
      server_.log.warning("the gateway refused a browser from origin '" + head.origin + "'");
      return respond_and_close(http_response(403, "Forbidden", "text/plain", "origin not allowed\n"));
    }
    if (server_.gateway->full())
      return respond_and_close(http_response(503, "Service Unavailable", "text/plain", "too many browsers\n"));
  }
  upgrade(head.key);
  if (phase_ == Phase::open && !leftover.empty()) consume(leftover.data(), leftover.size());
}

void Connection::upgrade(std::string_view key) {
  // A fresh socket's send buffer always holds these few bytes, so they go out directly, before
  // any frame can be queued.
  std::string handshake = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " + ws::accept_key(key) + "\r\n\r\n";
  ssize_t n = ::write(socket_.native_handle(), handshake.data(), handshake.size());
  if (n != static_cast<ssize_t>(handshake.size())) return finish();
  phase_ = Phase::open;
  if (observer_) server_.add_observer(id());
  else if (browser_) server_.gateway->opened(*this);
  else server_.broker.connected(*this);
}

void Connection::respond_and_close(std::string response) {
  phase_ = Phase::closing;
  closing_since_ = Clock::now();
  http_response_ = true;
  enqueue(Frame::raw(response));
}

void Connection::on_text(std::string_view message) {
  if (phase_ != Phase::open || observer_) return;  // an observer only reads
  if (browser_) server_.gateway->from_browser(*this, message);
  else server_.broker.message(*this, message);
}

void Connection::on_binary(std::string_view) {
  server_.broker.metrics().refused["binary-frame"]++;
  server_.log.warning("connection " + std::to_string(id()) + (registered() ? " ('" + role() + "')" : std::string()) +
                      " sent a binary frame; ExoCom speaks JSON in text frames, closing it");
  start_close(ws::close_code::unsupported_data, "binary messages are not supported; send JSON text");
}

void Connection::on_close(uint16_t code, std::string_view) {
  close_received_ = true;
  if (phase_ == Phase::open) {
    // The peer starts the handshake: echo its code, then close the TCP connection.
    start_close(code == ws::close_code::no_status ? ws::close_code::normal : code, {});
  } else if (phase_ == Phase::closing && out_.empty() && !close_frame_) {
    finish();  // our close frame is out and theirs is in: the handshake is complete
  }
}

void Connection::on_ping(std::string_view payload) {
  if (phase_ == Phase::open) enqueue(make_frame(ws::Opcode::pong, payload));
}

void Connection::on_pong(std::string_view) { ping_outstanding_ = false; }

void Connection::on_protocol_error(uint16_t code, std::string_view reason) {
  server_.broker.metrics().refused[code == ws::close_code::too_big ? "too-big" : "protocol-error"]++;
  server_.log.warning("connection " + std::to_string(id()) + (registered() ? " ('" + role() + "')" : std::string()) +
                      ": " + std::string(reason) + "; closing it with " + std::to_string(code));
  // The close frame goes out, then input is read and discarded until the peer's close frame
  // (after a too-big message the framing is intact), its end of the stream, or the close timeout:
  // closing a socket with unread input would reset the connection before our close frame is read.
  start_close(code, reason);
}

// --- writing ------------------------------------------------------------------------------

void Connection::send_frame(const Frame& frame, Ticket ticket) {
  if (phase_ != Phase::open) {
    if (phase_ == Phase::closing && !handed_back_) out_.push_back({frame, ticket});  // handed back with the rest
    else server_.broker.written(ticket);  // closed: nobody can wait for it here any longer
    return;
  }
  enqueue(frame, ticket);
  // A big batch is written right away rather than at the end of the batch, so only a socket
  // that is really full lets the queue grow.
  if (out_bytes_ > kEagerFlushBytes && !waiting_writable_) flush();
  // What it has not acknowledged counts too: a client that reads but never says so holds memory.
  if (out_bytes_ + unacknowledged_bytes_ > server_.options.limits.send_queue_bytes && phase_ == Phase::open) {
    server_.broker.metrics().slow_consumers++;
    server_.log.warning(fmt::format("'{}' (connection {}) did not read {} queued bytes; cut off as a slow consumer",
                                    role(), id(), out_bytes_ + unacknowledged_bytes_));
    start_close(ws::close_code::policy_violation, "slow consumer: the send queue is full");
  }
}

void Connection::acknowledged(uint64_t count) {
  while (!unacknowledged_.empty() && unacknowledged_.front().first <= count) {
    Ticket ticket = unacknowledged_.front().second.ticket;
    unacknowledged_bytes_ -= unacknowledged_.front().second.frame.size();
    unacknowledged_.pop_front();
    server_.broker.written(ticket);
  }
  if (!out_.empty()) schedule_flush();  // the window moved
}

void Connection::enqueue(Frame frame, Ticket ticket) {
  out_bytes_ += frame.size();
  out_.push_back({std::move(frame), ticket});
  schedule_flush();
}

void Connection::schedule_flush() {
  if (flush_scheduled_ || waiting_writable_) return;
  flush_scheduled_ = true;
  // Posted, so every frame queued while handling this batch goes out in the same write.
  asio::post(server_.io, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void Connection::flush() {
  while (phase_ != Phase::closed) {
    std::array<iovec, kMaxIovecs> iov;
    size_t count = 0;
    bool closing = phase_ == Phase::closing && !http_response_;
    if (closing && !handed_back_) hand_back_undelivered();
    size_t offset = out_offset_;
    // A client with receipts gets a window of frames ahead of what it acknowledged (a frame begun
    // is always finished).
    size_t window = SIZE_MAX;
    if (receipts()) window = std::max<size_t>(kDeliveryWindow - std::min(kDeliveryWindow, unacknowledged_.size()), out_offset_ > 0);
    for (const auto& d : out_) {
      if (count == kMaxIovecs || count == window) break;
      iov[count++] = {const_cast<char*>(d.frame.data() + offset), d.frame.size() - offset};
      offset = 0;
      if (closing) break;  // only the frame already begun is finished; the rest went back
    }
    bool writing_close = false;
    if (closing && out_.empty() && close_frame_) {
      iov[count++] = {const_cast<char*>(close_frame_.data() + close_offset_), close_frame_.size() - close_offset_};
      writing_close = true;
    }
    if (count == 0) {
      if (http_response_) finish();
      return;  // nothing to write, or the window is full: an acknowledgement flushes again
    }
    ssize_t written = ::writev(socket_.native_handle(), iov.data(), static_cast<int>(count));
    if (written < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_writable();
      if (errno == EINTR) continue;
      return fail_later();
    }
    auto n = static_cast<size_t>(written);
    server_.broker.metrics().bytes_out += n;
    if (writing_close) {
      close_offset_ += n;
      if (close_offset_ < close_frame_.size()) return wait_writable();
      close_frame_.reset();
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      if (close_received_) return finish();
      return wait_readable();  // the peer's close frame ends it; the sweep bounds the wait
    }
    while (n > 0) {
      size_t left = out_.front().frame.size() - out_offset_;
      if (n < left) {
        out_offset_ += n;
        break;
      }
      n -= left;
      out_bytes_ -= out_.front().frame.size();
      Queued done = std::move(out_.front());
      out_.pop_front();
      out_offset_ = 0;
      if (done.frame.is_text()) ++text_written_;
      if (done.ticket == kNoTicket) continue;
      // Written is not yet read: a client with receipts says when it has the frame.
      if (receipts()) {
        unacknowledged_bytes_ += done.frame.size();
        unacknowledged_.emplace_back(text_written_, std::move(done));
      } else {
        server_.broker.written(done.ticket);
      }
    }
    if (out_offset_ > 0) return wait_writable();  // the socket took less than offered: it is full
  }
}

void Connection::wait_writable() {
  if (waiting_writable_ || phase_ == Phase::closed) return;
  waiting_writable_ = true;
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const error_code& ec) { self->on_writable(ec); });
}

void Connection::on_writable(const error_code& ec) {
  waiting_writable_ = false;
  if (ec) return finish();
  flush();
}

// --- closing ------------------------------------------------------------------------------

void Connection::close(uint16_t code, std::string_view reason) { start_close(code, reason); }

void Connection::start_close(uint16_t code, std::string_view reason) {
  if (phase_ == Phase::closing || phase_ == Phase::closed) return;
  bool was_open = phase_ == Phase::open;
  phase_ = Phase::closing;
  closing_since_ = Clock::now();
  if (!was_open) return finish();
  close_frame_ = make_frame(ws::Opcode::close, ws::close_payload(code, reason));
  // The broker may be in the middle of a fan-out: hand frames back once it is done.
  asio::post(server_.io, [self = shared_from_this()] { self->hand_back_undelivered(); });
  schedule_flush();
}

void Connection::hand_back_undelivered() {
  if (handed_back_) return;
  handed_back_ = true;
  // A frame already half written stays to be finished (the close frame must follow whole
  // frames); every other queued frame goes back to the broker for another instance.
  size_t keep = out_offset_ > 0 ? 1 : 0;
  if (keep && !browser_) out_.front().ticket = server_.broker.finishing(*this, out_.front().ticket);  // its node need not wait for it
  std::vector<Queued> undelivered(out_.begin() + static_cast<long>(std::min(keep, out_.size())), out_.end());
  out_.resize(std::min(keep, out_.size()));
  out_bytes_ = out_.empty() ? 0 : out_.front().frame.size();
  // A browser's undelivered frames have nowhere else to go, nor an observer's.
  if (observer_) server_.remove_observer(id());
  else if (browser_) server_.gateway->closed(*this);
  else server_.broker.disconnected(*this, std::move(undelivered));
  schedule_flush();
}

void Connection::finish() {
  if (phase_ == Phase::closed) return;
  bool was_websocket = phase_ != Phase::http && !http_response_;
  phase_ = Phase::closed;
  error_code ignored;
  socket_.close(ignored);
  if (was_websocket && !handed_back_) {
    handed_back_ = true;
    // Nothing queued reached the peer whole, not even a frame half written; nor, as far as we
    // know, what it did not acknowledge.
    std::vector<Queued> undelivered;
    for (auto& [count, q] : unacknowledged_) undelivered.push_back(std::move(q));
    unacknowledged_.clear();
    undelivered.insert(undelivered.end(), out_.begin(), out_.end());
    out_.clear();
    if (observer_) server_.remove_observer(id());
    else if (browser_) server_.gateway->closed(*this);
    else server_.broker.disconnected(*this, std::move(undelivered));
  } else if (was_websocket && !browser_ && !observer_ && (!out_.empty() || !unacknowledged_.empty())) {
    // Closed after the close began: what it did not acknowledge, and a frame it was still being
    // sent, go elsewhere too.
    std::vector<Queued> undelivered;
    for (auto& [count, q] : unacknowledged_) undelivered.push_back(std::move(q));
    unacknowledged_.clear();
    undelivered.insert(undelivered.end(), out_.begin(), out_.end());
    server_.broker.disconnected(*this, std::move(undelivered));
  }
  out_.clear();
  server_.schedule_log_flush();
  server_.removed(id());
}

void Connection::fail_later() {
  asio::post(server_.io, [self = shared_from_this()] { self->finish(); });
}

void Connection::observe(const Frame& batch) {
  if (phase_ == Phase::open && out_bytes_ < kObserverBacklog) enqueue(batch);
}

void Connection::sweep(Clock::time_point now) {
  const auto& lim = server_.options.limits;
  switch (phase_) {
    case Phase::http:
      if (now - opened_ > lim.register_timeout) finish();
      break;
    case Phase::open:
      if (!registered() && !observer_ && now - opened_ > lim.register_timeout) {
        server_.log.warning(fmt::format("connection {} did not register within {}s; closing it", id(),
                                        std::chrono::duration_cast<std::chrono::seconds>(lim.register_timeout).count()));
        start_close(ws::close_code::policy_violation, "register with exocom.register-service first");
      } else if (now - last_read_ > lim.idle_timeout) {
        server_.log.warning(fmt::format("'{}' (connection {}) sent nothing for {}s; closing it", role(), id(),
                                        std::chrono::duration_cast<std::chrono::seconds>(lim.idle_timeout).count()));
        start_close(ws::close_code::going_away, "idle timeout");
      } else if (now - last_read_ > lim.ping_interval && !ping_outstanding_) {
        ping_outstanding_ = true;
        enqueue(make_frame(ws::Opcode::ping, {}));
      }
      break;
    case Phase::closing:
      if (now - closing_since_ > lim.close_timeout) finish();
      break;
    case Phase::closed:
      break;
  }
}

// --- the server -----------------------------------------------------------------------------

Server::Server(Listen listen, config::RouteTable routes, Options options)
    : impl_(std::make_unique<Impl>(std::move(listen), std::move(routes), options)) {}

Server::~Server() = default;

void Server::bind() {
  error_code ec;
  auto address = asio::ip::make_address(impl_->listen.host, ec);
  if (ec) throw UserError("--host '" + impl_->listen.host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->listen.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (ec == asio::error::address_in_use)
    throw UserError(fmt::format("port {} is already in use; stop what uses it or choose another with --port", impl_->listen.port));
  if (ec == asio::error::access_denied)
    throw UserError(fmt::format("no permission to listen on port {}; choose a port above 1023 with --port", impl_->listen.port));
  if (ec) throw UserError(fmt::format("cannot listen on {}:{}: {}", impl_->listen.host, impl_->listen.port, ec.message()));
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw UserError("cannot listen: " + ec.message());
  // A node joins before its gateway registers, so the gateway is announced to the cluster.
  if (impl_->listen.cluster) {
    impl_->cluster = std::make_unique<Cluster>(*impl_->listen.cluster, impl_->broker, impl_->log, impl_->io);
    impl_->cluster->join();
    impl_->cluster->on_fatal([impl = impl_.get()](const std::string& reason) {
      impl->log.error(reason);
      impl->exit_code = 1;
      impl->begin_shutdown();
    });
  }
  if (impl_->listen.gateway) {
    impl_->gateway = std::make_unique<Gateway>(impl_->broker, impl_->listen.gateway_options, impl_->log);
    impl_->broker.gateway_role(impl_->listen.gateway_options.role);
    tcp::endpoint gw(address, impl_->listen.gateway_port);
    auto& g = impl_->gateway_acceptor;
    g.open(gw.protocol(), ec);
    if (!ec) g.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) g.bind(gw, ec);
    if (ec == asio::error::address_in_use)
      throw UserError(fmt::format("gateway port {} is already in use; choose another with --gateway-port", impl_->listen.gateway_port));
    if (!ec) g.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw UserError(fmt::format("cannot listen on gateway port {}: {}", impl_->listen.gateway_port, ec.message()));
  }
}

uint16_t Server::gateway_port() const {
  return impl_->gateway ? impl_->gateway_acceptor.local_endpoint().port() : 0;
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

int Server::run() {
  auto& s = *impl_;
  if (s.gateway) s.log.info(fmt::format("ExoCom gateway for '{}' online at port {}", s.listen.gateway_options.role, gateway_port()));
  s.log.info(fmt::format("ExoCom online at port {}", port()));
  s.log.flush();
  s.signals.async_wait([&s](const error_code& ec, int) {
    if (!ec) s.begin_shutdown();
  });
  if (s.cluster) s.cluster->start();
  s.accept();
  if (s.gateway) s.accept_browsers();
  s.tick();
  s.io.run();
  s.log.flush();
  return s.exit_code;
}

}  // namespace exo::exocom
