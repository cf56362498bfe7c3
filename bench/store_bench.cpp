// The generic storage service through the bus, SQLite backend: mongo.create and mongo.get-details
// from 1 and from 16 concurrent clients, next to a bare request/reply through the same ExoCom.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench/bench_support.hpp"
#include "common/files.hpp"
#include "exosphere/crud.hpp"

using namespace exo;
using namespace exo::bench;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

exosphere::RelayConfig config(uint16_t port, const char* role) {
  exosphere::RelayConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.role = role;
  return c;
}

struct Result {
  Samples samples;
  double per_second;
};

// `clients` relays, each sending `rounds` requests one after the other.
Result load(uint16_t port, int clients, int rounds, const std::function<json::value(int, int)>& payload, const char* name) {
  std::vector<std::unique_ptr<exosphere::Relay>> relays;
  for (int i = 0; i < clients; ++i) {
    relays.push_back(std::make_unique<exosphere::Relay>(config(port, "client")));
    relays.back()->start();
    if (!relays.back()->wait_online(5s)) throw std::runtime_error("a client did not connect");
  }
  std::vector<Samples> samples(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; i < rounds; ++i) {
        auto t0 = Clock::now();
        auto reply = relays[static_cast<size_t>(c)]->request(name, payload(c, i), 10s).get();
        samples[static_cast<size_t>(c)].add(Clock::now() - t0);
        if (reply.name.find("not") != std::string::npos) throw std::runtime_error("store said " + reply.name);
      }
    });
  for (auto& t : threads) t.join();
  Result r;
  r.per_second = clients * rounds / std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& s : samples) r.samples.merge(s);
  return r;
}

void line(const char* key, const std::string& label, double value, const char* unit_target = nullptr, double target = 0) {
  if (unit_target)
    std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"value\":%.2f,\"target\":%.2f}\n", key, label.c_str(), value, target);
  else
    std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"value\":%.2f}\n", key, label.c_str(), value);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string exocom_binary = argc > 1 ? argv[1] : "build/release/src/exocom/exocom";
  std::string routes = R"({"client":{"sends":["mongo.create","mongo.get-details","ping"],
    "receives":["mongo.created","mongo.details","mongo.not-found","mongo.not-created","mongo.error","pong"]},
    "mongo":{"receives":["mongo.create","mongo.get-details"],"sends":["mongo.created","mongo.details","mongo.not-found","mongo.not-created","mongo.error"]},
    "responder":{"receives":["ping"],"sends":["pong"]}})";
  Server exocom = start_exocom(exocom_binary, routes);
  TempDir data("store-bench");

  exosphere::store::StoreConfig sc;
  sc.collection = "entries";
  sc.sqlite_path = (data.path() / "bench.sqlite").string();
  auto store = exosphere::store::open_store(sc);
  exosphere::Service mongo(config(exocom.port, "mongo"));
  exosphere::store::register_crud(mongo, *store, exosphere::store::Vocabulary::mongo());
  std::thread mongo_thread([&] { mongo.run(); });
  exosphere::Relay responder(config(exocom.port, "responder"));
  responder.on("ping", [&](const exosphere::Message& m) {
    exosphere::SendOptions o;
    o.activity_id = m.activity_id;
    responder.send("pong", nullptr, o);
  });
  responder.start();
  responder.wait_online(5s);
  std::this_thread::sleep_for(300ms);

  auto bare = load(exocom.port, 1, 5000, [](int, int) { return json::value(nullptr); }, "ping");
  line("store_bare_p50_us", "bare request/reply through ExoCom, p50 (µs)", bare.samples.percentile(50));
  std::vector<std::string> ids;
  for (int clients : {1, 16}) {
    int rounds = clients == 1 ? 3000 : 300;
    auto create = load(exocom.port, clients, rounds, [](int c, int i) {
      return json::value(json::object{{"content", "entry " + std::to_string(c) + "-" + std::to_string(i)}, {"owner_id", "1"}});
    }, "mongo.create");
    std::string n = std::to_string(clients);
    line(("store_create_" + n + "_ops").c_str(), "mongo.create, " + n + " client(s): operations/s", create.per_second);
    line(("store_create_" + n + "_p50").c_str(), "mongo.create, " + n + " client(s): p50 (µs)", create.samples.percentile(50));
    line(("store_create_" + n + "_p99").c_str(), "mongo.create, " + n + " client(s): p99 (µs)", create.samples.percentile(99));
    if (ids.empty())
      for (const auto& d : store->list({}, {}).documents) ids.push_back(std::string(d.at("id").as_string()));
    auto details = load(exocom.port, clients, rounds, [&](int c, int i) {
      return json::value(json::object{{"id", ids[static_cast<size_t>(c * 131 + i) % ids.size()]}});
    }, "mongo.get-details");
    line(("store_details_" + n + "_ops").c_str(), "mongo.get-details, " + n + " client(s): operations/s", details.per_second);
    line(("store_details_" + n + "_p99").c_str(), "mongo.get-details, " + n + " client(s): p99 (µs)", details.samples.percentile(99));
    if (clients == 1)
      line("store_details_1_p50", "mongo.get-details, 1 client: p50 (µs); target: at most twice the bare request/reply",
           details.samples.percentile(50), "us", 2 * bare.samples.percentile(50));
    else
      line(("store_details_" + n + "_p50").c_str(), "mongo.get-details, " + n + " clients: p50 (µs)", details.samples.percentile(50));
  }
  mongo.stop();
  mongo_thread.join();
  return 0;
}
