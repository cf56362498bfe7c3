// ExoCom and nats-server side by side, under the same load shapes, in one run. ExoCom is driven
// by a raw Asio WebSocket client (the baseline the SDK is held to), NATS by cnats. Prints one
// JSON object per result line; bench/run turns them into docs/benchmarks.md.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nats/nats.h>

#include "bench/bench_support.hpp"
#include "exosphere/relay.hpp"
#include "common/envelope.hpp"
#include "common/ids.hpp"
#include "common/net.hpp"
#include "common/websocket.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace exo;
using namespace exo::bench;

namespace {

const std::string kPayload128(128 - 2, 'x');  // a JSON string of 128 bytes with its quotes

// --- the raw ExoCom client --------------------------------------------------------------------

class RawClient {
 public:
  RawClient(uint16_t port, const std::string& role) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
    std::string key = ws::base64(random_hex(8));
    std::string req = "GET /services HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(socket_, asio::buffer(req));
    while (in_.find("\r\n\r\n") == std::string::npos) read_some();
    if (in_.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("handshake refused");
    in_.erase(0, in_.find("\r\n\r\n") + 4);
    send("{\"name\":\"exocom.register-service\",\"sender\":\"" + role + "\",\"payload\":{\"ack\":true}}");
    receive();  // exocom.registered: routing is ready
    role_ = role;
  }

  void send(std::string_view json) {
    out_.clear();
    ws::append_frame(out_, ws::Opcode::text, json, kMask);
    asio::write(socket_, asio::buffer(out_));
  }
  // Many frames in one write, as a batching client does.
  void send_batch(const std::vector<std::string>& messages) {
    out_.clear();
    for (const auto& m : messages) ws::append_frame(out_, ws::Opcode::text, m, kMask);
    asio::write(socket_, asio::buffer(out_));
  }
  std::string message(std::string_view name, std::string_view activity) const {
    return "{\"name\":\"" + std::string(name) + "\",\"sender\":\"" + role_ + "\",\"id\":\"" + random_hex(8) +
           "\",\"activityId\":\"" + std::string(activity) + "\",\"payload\":\"" + kPayload128 + "\"}";
  }
  std::string receive() {
    while (messages_.empty()) pump();
    std::string m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  // Counts messages without keeping them (throughput receivers).
  size_t count_until(size_t total) {
    counting_ = true;
    while (counted_ < total) pump();
    return counted_;
  }

 private:
  struct Events : ws::Events {
    RawClient& c;
    explicit Events(RawClient& client) : c(client) {}
    void on_text(std::string_view m) override {
      if (c.counting_) ++c.counted_;
      else c.messages_.emplace_back(m);
    }
    void on_binary(std::string_view) override {}
    void on_close(uint16_t, std::string_view) override { throw std::runtime_error("closed by exocom"); }
    void on_ping(std::string_view) override {}
    void on_pong(std::string_view) override {}
    void on_protocol_error(uint16_t, std::string_view r) override { throw std::runtime_error(std::string(r)); }
  };
  void read_some() {
    char buf[256 * 1024];
    size_t n = socket_.read_some(asio::buffer(buf));
    in_.append(buf, n);
  }
  void pump() {
    read_some();
    Events e(*this);
    size_t used = decoder_.feed(in_.data(), in_.size(), e);
    in_.erase(0, used);
  }
  static constexpr uint8_t kMask[4] = {1, 2, 3, 4};
  asio::io_context io_;
  tcp::socket socket_;
  std::string role_, in_, out_;
  ws::Decoder decoder_{false, 64 << 20};
  std::deque<std::string> messages_;
  bool counting_ = false;
  size_t counted_ = 0;
};

std::string activity_of(const std::string& text) {
  wire::Envelope env;
  std::string error;
  if (!wire::scan(text, env, error)) throw std::runtime_error("bad message: " + error);
  return std::string(env.activity_id);
}

// Answers every request with a reply in the same activity until `stop`.
void exocom_responder(uint16_t port, std::atomic<bool>& ready, std::atomic<bool>& stop) {
  RawClient c(port, "resp");
  ready = true;
  while (!stop) {
    std::string req = c.receive();
    if (req.find("\"bench.stop\"") != std::string::npos) break;
    c.send(c.message("bench.pong", activity_of(req)));
  }
}

Samples exocom_request_reply(RawClient& c, int n) {
  Samples s;
  for (int i = 0; i < n; ++i) {
    std::string aid = random_hex(16);
    auto t0 = Clock::now();
    c.send(c.message("bench.ping", aid));
    c.receive();
    s.add(Clock::now() - t0);
  }
  return s;
}

// CPU time (user + system) spent by this process (the clients) and by a server process.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t server) : server_(server), self_(self_now()), other_(process_now(server)) {}
  // Microseconds per message since construction: {clients, server}.
  std::pair<double, double> per_message(double messages) const {
    return {(self_now() - self_) * 1e6 / messages, (process_now(server_) - other_) * 1e6 / messages};
  }

 private:
  static double self_now() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return secs(u.ru_utime) + secs(u.ru_stime);
  }
  static double process_now(pid_t pid) {
    auto stat = try_read_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; fields >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  pid_t server_;
  double self_, other_;
};

// One client kind's request/reply: latency and what each message cost in CPU, both ends counted.
void report_cost(const char* key, const char* label, Samples& s, std::pair<double, double> cpu) {
  std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"p50\":%.3f,\"p99\":%.3f,\"client_cpu_us\":%.3f,\"server_cpu_us\":%.3f}\n", key,
              label, s.percentile(50), s.percentile(99), cpu.first, cpu.second);
  std::fflush(stdout);
}

// The same request/reply through the SDK on both ends: a Relay requesting, a Relay handler replying.
Samples sdk_request_reply(uint16_t port, int warmup, int n, std::chrono::microseconds spin = {},
                          std::pair<double, double>* cpu = nullptr, pid_t server = 0) {
  auto config = [port, spin](const char* role) {
    exosphere::RelayConfig c;
    c.host = "127.0.0.1";
    c.port = port;
    c.role = role;
    c.reply_spin = spin;
    return c;
  };
  exosphere::Relay responder(config("resp"));
  responder.on("bench.ping", [&responder](const exosphere::Message& m) {
    exosphere::SendOptions o;
    o.activity_id = m.activity_id;
    responder.send("bench.pong", m.payload, o);
  });
  responder.start();
  exosphere::Relay requester(config("req"));
  requester.start();
  if (!responder.wait_online(5s) || !requester.wait_online(5s)) throw std::runtime_error("SDK relays did not connect");
  exosphere::json::value payload(kPayload128);
  Samples s;
  std::optional<CpuMeter> meter;
  for (int i = 0; i < warmup + n; ++i) {
    if (i == warmup) meter.emplace(server);
    auto t0 = Clock::now();
    requester.request("bench.ping", payload, 5s).get();
    if (i >= warmup) s.add(Clock::now() - t0);
  }
  if (cpu) *cpu = meter->per_message(2.0 * n);  // a request and its reply
  return s;
}

// --- the NATS client --------------------------------------------------------------------------

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

natsConnection* nats_connect(uint16_t port, bool send_asap) {
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "options");
  std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, send_asap);
  natsOptions_SetMaxPendingMsgs(opts, 10000000);
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, opts), "connect");
  natsOptions_Destroy(opts);
  return nc;
}

void nats_responder(uint16_t port, std::atomic<bool>& ready, std::atomic<bool>& stop) {
  natsConnection* nc = nats_connect(port, true);
  natsSubscription* sub = nullptr;
  check(natsConnection_SubscribeSync(&sub, nc, "bench.ping"), "subscribe");
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(nc);
  ready = true;
  while (!stop) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub, 200) != NATS_OK) continue;
    if (natsMsg_GetReply(msg)) natsConnection_Publish(nc, natsMsg_GetReply(msg), kPayload128.data(), 128);
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
}

Samples nats_request_reply(natsConnection* nc, int n) {
  Samples s;
  for (int i = 0; i < n; ++i) {
    natsMsg* reply = nullptr;
    auto t0 = Clock::now();
    check(natsConnection_Request(&reply, nc, "bench.ping", kPayload128.data(), 128, 5000), "request");
    s.add(Clock::now() - t0);
    natsMsg_Destroy(reply);
  }
  return s;
}

// --- the load shapes ---------------------------------------------------------------------------

constexpr int kLatencyRounds = 20000;
constexpr size_t kThroughputMessages = 200000;
constexpr size_t kBatch = 128;
constexpr int kThroughputRuns = 7;
constexpr int kConcurrentClients = 50;
constexpr int kConcurrentRounds = 400;

void wait_for(std::atomic<bool>& flag) {
  while (!flag) std::this_thread::sleep_for(1ms);
}

// Request/reply from one client, raw against ExoCom and cnats against NATS; with the CPU both ends
// spent per message, clients and server.
struct Latency {
  Samples exocom, nats;
  std::pair<double, double> exocom_cpu, nats_cpu;
};

Latency latency(const Server& exo, const Server& nats) {
  Latency out;
  {
    std::atomic<bool> ready{false}, stop{false};
    std::thread responder(exocom_responder, exo.port, std::ref(ready), std::ref(stop));
    wait_for(ready);
    RawClient req(exo.port, "req");
    exocom_request_reply(req, 2000);  // warm-up
    CpuMeter meter(exo.pid);
    out.exocom = exocom_request_reply(req, kLatencyRounds);
    out.exocom_cpu = meter.per_message(2.0 * kLatencyRounds);
    stop = true;
    req.send(req.message("bench.stop", "stop"));
    responder.join();
  }
  {
    std::atomic<bool> ready{false}, stop{false};
    std::thread responder(nats_responder, nats.port, std::ref(ready), std::ref(stop));
    wait_for(ready);
    natsConnection* nc = nats_connect(nats.port, true);
    nats_request_reply(nc, 2000);
    CpuMeter meter(nats.pid);
    out.nats = nats_request_reply(nc, kLatencyRounds);
    out.nats_cpu = meter.per_message(2.0 * kLatencyRounds);
    stop = true;
    responder.join();
    natsConnection_Destroy(nc);
  }
  return out;
}

// A pipelined stream: one sender connected to `source_port`, receivers connected to `sink_port`.
struct Stream {
  uint16_t source_port, sink_port;
  std::string source = "source", subject = "bench.one";
  std::vector<std::string> sinks = {"sink1"};
};

// Runs the streams side by side; messages per second delivered to each receiver, over all of them.
double exocom_streams(const std::vector<Stream>& streams, std::function<void()> wait_routes = {}) {
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  int receivers = 0;
  for (const auto& st : streams) receivers += static_cast<int>(st.sinks.size());
  std::vector<double> done(static_cast<size_t>(receivers));
  Clock::time_point start;
  std::atomic<bool> started{false};
  int r = 0;
  for (const auto& st : streams)
    for (const auto& sink : st.sinks) {
      threads.emplace_back([&, r, port = st.sink_port, sink] {
        RawClient c(port, sink);
        ++ready;
        c.count_until(kThroughputMessages);
        while (!started) std::this_thread::yield();
        done[static_cast<size_t>(r)] = std::chrono::duration<double>(Clock::now() - start).count();
      });
      ++r;
    }
  while (ready < receivers) std::this_thread::sleep_for(1ms);
  if (wait_routes) wait_routes();
  std::vector<std::unique_ptr<RawClient>> sources;
  std::vector<std::vector<std::string>> batches;
  for (const auto& st : streams) {
    sources.push_back(std::make_unique<RawClient>(st.source_port, st.source));
    auto& batch = batches.emplace_back();
    for (size_t i = 0; i < kBatch; ++i) batch.push_back(sources.back()->message(st.subject, random_hex(8)));
  }
  start = Clock::now();
  started = true;
  std::vector<std::thread> senders;
  for (size_t i = 0; i < sources.size(); ++i)
    senders.emplace_back([&, i] {
      for (size_t sent = 0; sent < kThroughputMessages; sent += kBatch) sources[i]->send_batch(batches[i]);
    });
  for (auto& t : senders) t.join();
  for (auto& t : threads) t.join();
  return static_cast<double>(kThroughputMessages) * receivers / *std::max_element(done.begin(), done.end()) / receivers;
}

// Pipelined: one sender, `receivers` receiving roles (1 = 1→1, 4 = fan-out); messages per second
// delivered to each receiver.
double exocom_throughput(uint16_t port, int receivers) {
  Stream st{port, port};
  if (receivers > 1) {
    st.subject = "bench.fan";
    st.sinks.clear();
    for (int r = 0; r < receivers; ++r) st.sinks.push_back("sink" + std::to_string(r + 1));
  }
  return exocom_streams({st});
}

double nats_throughput(uint16_t port, int receivers) {
  std::vector<natsConnection*> subs_nc;
  std::vector<natsSubscription*> subs;
  std::atomic<size_t> received{0};
  std::atomic<int> finished{0};
  Clock::time_point start;
  std::vector<double> done(static_cast<size_t>(receivers));
  struct Ctx {
    std::atomic<size_t> count{0};
    std::atomic<int>* finished;
    double* done;
    Clock::time_point* start;
  };
  std::vector<std::unique_ptr<Ctx>> ctx;
  for (int r = 0; r < receivers; ++r) {
    natsConnection* nc = nats_connect(port, false);
    auto c = std::make_unique<Ctx>();
    c->finished = &finished;
    c->done = &done[static_cast<size_t>(r)];
    c->start = &start;
    natsSubscription* sub = nullptr;
    check(natsConnection_Subscribe(
              &sub, nc, receivers == 1 ? "bench.one" : "bench.fan",
              [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
                auto* c = static_cast<Ctx*>(closure);
                if (++c->count == kThroughputMessages) {
                  *c->done = std::chrono::duration<double>(Clock::now() - *c->start).count();
                  ++*c->finished;
                }
                natsMsg_Destroy(msg);
              },
              c.get()),
          "subscribe");
    natsSubscription_SetPendingLimits(sub, -1, -1);
    natsConnection_Flush(nc);
    subs_nc.push_back(nc);
    subs.push_back(sub);
    ctx.push_back(std::move(c));
  }
  natsConnection* pub = nats_connect(port, false);
  start = Clock::now();
  const char* subject = receivers == 1 ? "bench.one" : "bench.fan";
  for (size_t i = 0; i < kThroughputMessages; ++i) natsConnection_Publish(pub, subject, kPayload128.data(), 128);
  natsConnection_Flush(pub);
  while (finished < receivers) std::this_thread::sleep_for(1ms);
  (void)received;
  for (auto* s : subs) natsSubscription_Destroy(s);
  for (auto* nc : subs_nc) natsConnection_Destroy(nc);
  natsConnection_Destroy(pub);
  return static_cast<double>(kThroughputMessages) / *std::max_element(done.begin(), done.end());
}

// 50 clients, each doing request/reply in a loop against one responder.
Samples exocom_concurrent(uint16_t port, double& per_second) {
  std::atomic<bool> ready{false}, stop{false};
  std::thread responder(exocom_responder, port, std::ref(ready), std::ref(stop));
  wait_for(ready);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kConcurrentClients; ++i) clients.push_back(std::make_unique<RawClient>(port, "req"));
  std::vector<Samples> samples(kConcurrentClients);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int i = 0; i < kConcurrentClients; ++i)
    threads.emplace_back([&, i] { samples[static_cast<size_t>(i)] = exocom_request_reply(*clients[static_cast<size_t>(i)], kConcurrentRounds); });
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  per_second = kConcurrentClients * kConcurrentRounds / secs;
  stop = true;
  clients[0]->send(clients[0]->message("bench.stop", "stop"));
  responder.join();
  Samples all;
  for (auto& s : samples) all.merge(s);
  return all;
}

Samples nats_concurrent(uint16_t port, double& per_second) {
  std::atomic<bool> ready{false}, stop{false};
  std::thread responder(nats_responder, port, std::ref(ready), std::ref(stop));
  wait_for(ready);
  std::vector<natsConnection*> clients;
  for (int i = 0; i < kConcurrentClients; ++i) clients.push_back(nats_connect(port, true));
  std::vector<Samples> samples(kConcurrentClients);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int i = 0; i < kConcurrentClients; ++i)
    threads.emplace_back([&, i] { samples[static_cast<size_t>(i)] = nats_request_reply(clients[static_cast<size_t>(i)], kConcurrentRounds); });
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  per_second = kConcurrentClients * kConcurrentRounds / secs;
  stop = true;
  responder.join();
  for (auto* nc : clients) natsConnection_Destroy(nc);
  Samples all;
  for (auto& s : samples) all.merge(s);
  return all;
}

// --- two ExoCom nodes ---------------------------------------------------------------------------

// What `path` answers on 127.0.0.1:`port` (HTTP/1.0, the whole body).
std::string http_get(uint16_t port, const std::string& path) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer("GET " + path + " HTTP/1.0\r\n\r\n"));
  std::string out;
  boost::system::error_code ec;
  char buf[8192];
  while (size_t n = s.read_some(asio::buffer(buf), ec)) out.append(buf, n);
  return out;
}

// Waits until the node on `port` knows `n` instances of `role` on other nodes.
void wait_remote(uint16_t port, const std::string& role, int n) {
  std::string needle = "\"" + role + "\":{\"instances\":0,\"remote\":" + std::to_string(n);
  for (int i = 0; i < 500; ++i) {
    std::string status = http_get(port, "/status");
    if (status.find(needle) != std::string::npos) return;
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("the nodes did not learn of '" + role + "' on each other");
}

struct Cluster {
  Server nats, a, b;
};

Cluster start_cluster(const std::string& binary, const std::string& routes) {
  Cluster c{start_nats(), {}, {}};
  std::vector<std::string> join = {"--cluster", "nats://127.0.0.1:" + std::to_string(c.nats.port), "--cluster-name", "bench"};
  auto node = [&](const char* name) {
    auto args = join;
    args.insert(args.end(), {"--node-name", name});
    return start_exocom(binary, routes, args);
  };
  c.a = node("a");
  c.b = node("b");
  return c;
}

// Request/reply with the requester on node a and the responder on node b; CPU of both nodes.
Samples cross_node_latency(const Cluster& c, std::pair<double, double>& cpu) {
  std::atomic<bool> ready{false}, stop{false};
  std::thread responder(exocom_responder, c.b.port, std::ref(ready), std::ref(stop));
  wait_for(ready);
  wait_remote(c.a.port, "resp", 1);
  RawClient req(c.a.port, "req");
  wait_remote(c.b.port, "req", 1);
  exocom_request_reply(req, 2000);
  CpuMeter on_a(c.a.pid), on_b(c.b.pid);
  Samples s = exocom_request_reply(req, kLatencyRounds);
  auto a = on_a.per_message(2.0 * kLatencyRounds), b = on_b.per_message(2.0 * kLatencyRounds);
  cpu = {a.first, a.second + b.second};
  stop = true;
  req.send(req.message("bench.stop", "stop"));
  responder.join();
  return s;
}

// RSS of the server with 1,000 idle, registered connections.
double exocom_idle_rss(uint16_t port, pid_t pid) {
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(std::make_unique<RawClient>(port, "idle"));
  std::this_thread::sleep_for(500ms);
  return rss_mb(pid);
}

double nats_idle_rss(uint16_t port, pid_t pid) {
  asio::io_context io;  // outlives the sockets
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 1000; ++i) {
    auto s = std::make_unique<tcp::socket>(io);
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string connect = "CONNECT {\"verbose\":false}\r\nSUB idle.x 1\r\nPING\r\n";
    asio::write(*s, asio::buffer(connect));
    idle.push_back(std::move(s));
  }
  std::this_thread::sleep_for(500ms);
  return rss_mb(pid);
}

}  // namespace

// What `exo run`'s dashboard does to ExoCom: a client of /observe that reads every trace batch (and
// drops it) and pings now and then, as a live page keeps it busy.
class ObserveDrain {
  static constexpr uint8_t kPingMask[4] = {4, 3, 2, 1};

 public:
  ObserveDrain(uint16_t port, const std::string& token) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string req = "GET /observe HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: " + ws::base64(random_hex(8)) + "\r\nSec-WebSocket-Version: 13\r\n"
                      "Authorization: Bearer " + token + "\r\n\r\n";
    asio::write(socket_, asio::buffer(req));
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos) {
      asio::read(socket_, asio::buffer(&c, 1));
      head += c;
    }
    if (head.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("/observe refused: " + head);
    reader_ = std::thread([this] {
      std::array<char, 65536> buf;
      auto last_ping = std::chrono::steady_clock::now();
      boost::system::error_code ec;
      while (!stop_) {
        size_t n = socket_.read_some(asio::buffer(buf), ec);
        if (ec) break;
        bytes_ += n;
        if (std::chrono::steady_clock::now() - last_ping > 5s) {
          std::string ping;
          ws::append_frame(ping, ws::Opcode::ping, {}, kPingMask);
          asio::write(socket_, asio::buffer(ping), ec);
          last_ping = std::chrono::steady_clock::now();
        }
      }
    });
  }
  ~ObserveDrain() {
    stop_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    reader_.join();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
};

int main(int argc, char** argv) {
  std::string exocom_binary = argc > 1 ? argv[1] : "build/release/src/exocom/exocom";
  raise_open_file_limit();

  std::string routes = R"({"req":{"sends":["bench.ping","bench.stop"],"receives":["bench.pong"]},)"
                       R"("resp":{"receives":["bench.ping","bench.stop"],"sends":["bench.pong"]},)"
                       R"("source":{"sends":["bench.one","bench.fan"]},"sink1":{"receives":["bench.one","bench.fan"]},)"
                       R"("sink2":{"receives":["bench.fan"]},"sink3":{"receives":["bench.fan"]},)"
                       R"("sink4":{"receives":["bench.fan"]},"idle":{},)"
                       R"("source2":{"sends":["bench.two"]},"sink5":{"receives":["bench.two"]}})";
  Server exocom = start_exocom(exocom_binary, routes);
  Server nats = start_nats();
  // `bus_bench <exocom> sdk`: only the SDK's request/reply and its cost, for profiling.
  if (argc > 2 && std::string_view(argv[2]) == "sdk") {
    std::pair<double, double> cpu;
    Samples s = sdk_request_reply(exocom.port, 2000, kLatencyRounds, {}, &cpu, exocom.pid);
    report_cost("cost_sdk", "SDK → ExoCom (default: no spinning)", s, cpu);
    Latency raw = latency(exocom, nats);
    report_cost("cost_raw", "raw client → ExoCom", raw.exocom, raw.exocom_cpu);
    return 0;
  }
  // `bus_bench <exocom> throughput`: only the 1→1 run, for profiling.
  if (argc > 2 && std::string_view(argv[2]) == "throughput") {
    if (argc > 3) std::this_thread::sleep_for(std::chrono::seconds(std::stoi(argv[3])));
    for (int i = 0; i < 5; ++i)
      report("throughput_1to1", "pipelined 1→1 throughput, 128 B (messages/s)", exocom_throughput(exocom.port, 1), 1, true);
    return 0;
  }

  // `bus_bench <exocom> cluster`: only the two-node figures.
  bool cluster_only = argc > 2 && std::string_view(argv[2]) == "cluster";
  Latency first = cluster_only ? Latency{} : latency(exocom, nats);
  if (!cluster_only) {
  report("latency_p50_us", "request/reply latency p50, 1 client, 128 B (µs)", first.exocom.percentile(50), first.nats.percentile(50), false);
  report("latency_p99_us", "request/reply latency p99, 1 client, 128 B (µs)", first.exocom.percentile(99), first.nats.percentile(99), false);

  // Throughput varies from run to run on two shared cores: seven interleaved runs each, medians.
  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (int receivers : {1, 4}) {
    std::vector<double> exo_runs, nats_runs;
    for (int i = 0; i < kThroughputRuns; ++i) {
      exo_runs.push_back(exocom_throughput(exocom.port, receivers));
      nats_runs.push_back(nats_throughput(nats.port, receivers));
    }
    if (receivers == 1)
      report("throughput_1to1", "pipelined 1→1 throughput, 128 B (messages/s, median of 7)", median_of(exo_runs),
             median_of(nats_runs), true);
    else
      report("throughput_fanout4", "fan-out 1→4 roles, 128 B (messages/s per receiver, median of 7)",
             median_of(exo_runs), median_of(nats_runs), true);
  }

  // The SDK's own cost: the same round trip through libexosphere on both ends, against the raw client
  // (measured again here, next to it).
  {
    std::pair<double, double> sdk_cpu, spin_cpu;
    Samples sdk = sdk_request_reply(exocom.port, 2000, kLatencyRounds, {}, &sdk_cpu, exocom.pid);
    Samples spinning = sdk_request_reply(exocom.port, 2000, kLatencyRounds, 300us, &spin_cpu, exocom.pid);
    Latency again = latency(exocom, nats);
    report("sdk_p50_us", "request/reply latency p50 through the SDK (µs)", sdk.percentile(50), again.exocom.percentile(50), false, "raw");
    report("sdk_p99_us", "request/reply latency p99 through the SDK (µs)", sdk.percentile(99), again.exocom.percentile(99), false, "raw");
    report_cost("cost_raw", "raw client → ExoCom", again.exocom, again.exocom_cpu);
    report_cost("cost_sdk", "SDK → ExoCom (default: no spinning)", sdk, sdk_cpu);
    report_cost("cost_sdk_spin", "SDK → ExoCom, reply_spin 300 µs", spinning, spin_cpu);
    report_cost("cost_nats", "cnats → nats-server (send-asap)", again.nats, again.nats_cpu);
  }
  }

  // Two ExoCom nodes joined through a nats-server of their own, next to one node and to NATS alone.
  {
    Cluster cluster = start_cluster(exocom_binary, routes);
    std::pair<double, double> cross_cpu;
    Samples cross = cross_node_latency(cluster, cross_cpu);
    Latency one = latency(exocom, nats);
    report_cluster("cluster_p50_us", "request/reply p50, requester and responder on two nodes (µs)", cross.percentile(50),
                   one.exocom.percentile(50), one.nats.percentile(50), false);
    report_cluster("cluster_p99_us", "request/reply p99, requester and responder on two nodes (µs)", cross.percentile(99),
                   one.exocom.percentile(99), one.nats.percentile(99), false);
    report_cost("cost_cluster", "raw client → two ExoCom nodes (server CPU: both nodes)", cross, cross_cpu);
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    auto sink_on_b = [&] { wait_remote(cluster.a.port, "sink1", 1); };
    std::vector<double> across, local;
    for (int i = 0; i < 5; ++i) {
      across.push_back(exocom_streams({Stream{cluster.a.port, cluster.b.port}}, sink_on_b));
      local.push_back(exocom_throughput(exocom.port, 1));
    }
    report_cluster("cluster_1to1", "pipelined 1→1 throughput, sender and receiver on two nodes (messages/s, median of 5)",
                   median_of(across), median_of(local), 0, true);
    // Two independent pairs: each on a node of its own, against both on one ExoCom.
    std::vector<double> split, together;
    for (int i = 0; i < 5; ++i) {
      split.push_back(exocom_streams({Stream{cluster.a.port, cluster.a.port},
                                      Stream{cluster.b.port, cluster.b.port, "source2", "bench.two", {"sink5"}}}));
      together.push_back(exocom_streams({Stream{exocom.port, exocom.port},
                                         Stream{exocom.port, exocom.port, "source2", "bench.two", {"sink5"}}}));
    }
    report_cluster("cluster_two_pairs", "two independent 1→1 pairs, each on its own node (messages/s per receiver, median of 5)",
                   median_of(split), median_of(together), 0, true);
  }
  if (cluster_only) return 0;

  // A dashboard watching (ExoCom's /observe) against nobody watching, on one ExoCom, interleaved.
  {
    const std::string token = random_hex(16);
    Server watched = start_server({exocom_binary, "--host", "127.0.0.1", "--port", "0", "--quiet"},
                                  {{"SERVICE_DATA", routes}, {"EXOCOM_OBSERVE_TOKEN", token}}, "ExoCom online at port (\\d+)");
    std::vector<double> with, without;
    uint64_t observed = 0;
    for (int i = 0; i < kThroughputRuns; ++i) {
      without.push_back(exocom_throughput(watched.port, 1));
      ObserveDrain dashboard(watched.port, token);
      with.push_back(exocom_throughput(watched.port, 1));
      observed += dashboard.bytes();
    }
    if (observed == 0) throw std::runtime_error("the dashboard's stream carried nothing");
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf("{\"key\":\"dashboard_throughput\",\"label\":\"pipelined 1→1 throughput, 128 B (messages/s, median of %d)\","
                "\"with_dashboard\":%.3f,\"without\":%.3f,\"higher_is_better\":true}\n",
                kThroughputRuns, median_of(with), median_of(without));
    std::fflush(stdout);
  }

  double exo_rate = 0, nats_rate = 0;
  Samples exo_c = exocom_concurrent(exocom.port, exo_rate);
  Samples nats_c = nats_concurrent(nats.port, nats_rate);
  report("concurrent50_rate", "50 concurrent request/reply clients (requests/s)", exo_rate, nats_rate, true);
  report("concurrent50_p50_us", "50 concurrent clients, latency p50 (µs)", exo_c.percentile(50), nats_c.percentile(50), false);
  report("concurrent50_p99_us", "50 concurrent clients, latency p99 (µs)", exo_c.percentile(99), nats_c.percentile(99), false);

  // Fresh servers, so memory the load tests used does not count.
  Server idle_exocom = start_exocom(exocom_binary, routes);
  Server idle_nats = start_nats();
  report("idle_rss_mb", "server RSS with 1,000 idle connections (MB)", exocom_idle_rss(idle_exocom.port, idle_exocom.pid),
         nats_idle_rss(idle_nats.port, idle_nats.pid), false);
  return 0;
}
