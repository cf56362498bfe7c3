// The stop contract (docs/architecture.md, "Stopping"), counted: a service that gets SIGTERM in
// the middle of a stream finishes what it started, gives back what it had not, and exits 0 within
// the bound; every request is answered once, by it or by the other instance of its role.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "support/processes.hpp"
#include "support/test_support.hpp"

using namespace exosphere;
using namespace exo::test;
using namespace std::chrono_literals;

namespace {

const std::string kRoutes = R"({"client":{"sends":["job"],"receives":["job.done"]},
                               "worker":{"receives":["job"],"sends":["job.done"]},
                               "web":{"sends":["job"],"receives":["job.done"]}})";

std::string stop_worker() { return std::string(EXO_BUILD_DIR) + "/tests/stop_worker"; }

std::unique_ptr<Watched> start_worker(const std::string& mode, const std::string& role, uint16_t bus_port,
                                      const std::string& job_ms = "1") {
  exo::SpawnOptions o;
  o.argv = {stop_worker(), mode};
  o.env = {{"ROLE", role}, {"EXOCOM_HOST", "127.0.0.1"}, {"EXOCOM_PORT", std::to_string(bus_port)}, {"JOB_MS", job_ms}};
  o.merge_stderr = true;
  auto w = std::make_unique<Watched>(o);
  if (w->output().wait_for("online at port", 10s * kSlowdown) == std::string::npos)
    throw std::runtime_error(mode + " worker did not come online: " + w->output().text());
  return w;
}

long handled_by(Watched& w) {
  w.output().wait_ended(5s);
  auto text = w.output().text();
  auto at = text.rfind("handled ");
  return at == std::string::npos ? -1 : std::stol(text.substr(at + 8));
}

RelayConfig client_config(uint16_t port, const std::string& role) {
  RelayConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.role = role;
  c.log = [](const std::string&) {};
  return c;
}

// SIGTERM now; the exit code and how long the stop took.
std::pair<std::optional<int>, std::chrono::milliseconds> sigterm(Watched& w) {
  auto t0 = std::chrono::steady_clock::now();
  w.signal(SIGTERM);
  auto code = w.wait_exit(10s * kSlowdown);
  return {code, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)};
}

}  // namespace

TEST(Stop, AServiceStoppedMidStreamAnswersEveryRequestOnce) {
  constexpr int kRequests = 1000, kInFlight = 64;
  Exocom bus(kRoutes, {"--quiet"});
  auto a = start_worker("bus", "worker", bus.port(), "2");
  auto b = start_worker("bus", "worker", bus.port(), "2");
  Relay client(client_config(bus.port(), "client"));
  std::atomic<int> strays{0};  // a second answer to a request already answered
  client.on_unknown([&](const Message&) { ++strays; });
  client.start();
  ASSERT_TRUE(client.wait_online(5s));

  std::mutex mutex;
  std::condition_variable changed;
  std::map<int, int> answers;  // n → answers
  int failed = 0, in_flight = 0;
  std::string failure;
  std::thread stopper;
  struct JoinAtEnd {
    std::thread& t;
    ~JoinAtEnd() {
      if (t.joinable()) t.join();
    }
  } join_stopper{stopper};  // also when an assertion ends the test early
  for (int n = 0; n < kRequests; ++n) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return in_flight < kInFlight; });
      ++in_flight;
    }
    if (n == 300) {
      stopper = std::thread([&] {
        auto [code, took] = sigterm(*a);
        EXPECT_EQ(code, 0) << a->output().text();
        EXPECT_LT(took, 5s * kSlowdown) << "the stop bound is 5 s";
      });
    }
    client.request("job", json::object{{"n", n}}, 20s, [&, n](Result r) {
      std::lock_guard lock(mutex);
      --in_flight;
      if (r.ok()) ++answers[n];
      else if (++failed == 1) failure = r.error;
      changed.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s * kSlowdown, [&] { return in_flight == 0; }));
  }
  if (stopper.joinable()) stopper.join();
  b->signal(SIGTERM);
  ASSERT_EQ(b->wait_exit(10s * kSlowdown), 0) << b->output().text();
  EXPECT_EQ(failed, 0) << failure;
  EXPECT_EQ(static_cast<int>(answers.size()), kRequests);
  for (auto& [n, count] : answers) ASSERT_EQ(count, 1) << "request " << n;
  EXPECT_EQ(strays, 0) << "requests answered twice";
  long by_a = handled_by(*a), by_b = handled_by(*b);
  EXPECT_GT(by_a, 0);
  EXPECT_GT(by_b, 0);
  EXPECT_EQ(by_a + by_b, kRequests) << "handled: " << by_a << " + " << by_b << "\n" << a->output().text();
}

// The HTTP server is built before the Service, so its threads exist before run() blocks SIGTERM:
// the signal must still reach the service's stop, not kill the process or vanish.
TEST(Stop, AWebServerBuiltBeforeItsServiceStopsMidStreamAnsweringEveryRequest) {
  constexpr int kRequests = 1000, kClients = 8;
  Exocom bus(kRoutes, {"--quiet"});
  Relay worker(client_config(bus.port(), "worker"));
  std::mutex mutex;
  std::map<long, int> jobs;  // n → times the worker saw it
  worker.on("job", [&](const Message& m) {
    {
      std::lock_guard lock(mutex);
      ++jobs[m.payload.at("n").as_int64()];
    }
    SendOptions o;
    o.activity_id = m.activity_id;
    worker.send("job.done", m.payload, o);
  });
  worker.start();
  ASSERT_TRUE(worker.wait_online(5s));
  auto a = start_worker("web", "web", bus.port());
  auto b = start_worker("web", "web", bus.port());
  uint16_t ports[2] = {port_after(a->output().text(), "web at port "), port_after(b->output().text(), "web at port ")};

  std::atomic<int> next{0}, answered{0}, wrong{0}, unanswered{0};
  std::atomic<bool> a_stopped{false};
  std::thread stopper([&] {
    auto give_up = std::chrono::steady_clock::now() + 30s * kSlowdown;
    while (answered < 300 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    auto [code, took] = sigterm(*a);
    a_stopped = true;
    EXPECT_EQ(code, 0) << a->output().text();
    EXPECT_LT(took, 5s * kSlowdown) << "the stop bound is 5 s";
  });
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int n = next++; n < kRequests; n = next++) {
        // As a load balancer does: a refused connection is tried on the other instance.
        auto deadline = std::chrono::steady_clock::now() + 20s * kSlowdown;
        int status = 0;
        std::string body;
        for (int i = n % 2; status == 0 && std::chrono::steady_clock::now() < deadline; i = 1 - i) {
          std::tie(status, body) = http_get(ports[i], "/job?n=" + std::to_string(n), 20s);
        }
        if (status == 0) ++unanswered;
        else if (status != 200 || body != std::to_string(n)) ++wrong;
        else ++answered;
      }
    });
  }
  for (auto& t : clients) t.join();
  stopper.join();
  ASSERT_TRUE(a_stopped);
  b->signal(SIGTERM);
  ASSERT_EQ(b->wait_exit(10s * kSlowdown), 0) << b->output().text();
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(unanswered, 0);
  std::lock_guard lock(mutex);
  EXPECT_EQ(static_cast<int>(jobs.size()), kRequests);
  for (auto& [n, count] : jobs) ASSERT_EQ(count, 1) << "job " << n << " was asked for twice";
  long by_a = handled_by(*a), by_b = handled_by(*b);
  EXPECT_GT(by_a, 0);
  EXPECT_EQ(by_a + by_b, kRequests);
}
