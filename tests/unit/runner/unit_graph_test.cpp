// The units of one exo run and what each needs (unit_graph.hpp), on a made-up machine.
#include <gtest/gtest.h>

#include <set>

#include "common/error.hpp"
#include "runner/unit_graph.hpp"

using namespace exo;
using namespace exo::runner;

namespace {

struct World {
  config::Application app;
  std::map<std::string, config::Service> services;
  RunOptions options;
  std::set<uint16_t> in_use;
  uint16_t next_free = 50000;
  Host host{[this] { return next_free++; }, [this](uint16_t p) { return in_use.count(p) > 0; },
            [](const std::string& name) { return "/usr/bin/" + name; }, "/app/.exosphere/data", "token"};

  World() { app.root = "/app"; }

  config::Service& service(const std::string& role, int port = 0, std::vector<std::string> depends_on = {}) {
    config::ServiceRef ref;
    ref.role = role;
    ref.location = role;
    ref.depends_on = std::move(depends_on);
    app.services.push_back(ref);
    config::Service& s = services[role];
    s.dir = "/app/" + role;
    s.file = role + "/service.yml";
    s.startup.command = "exec " + role;
    s.port = port;
    return s;
  }

  UnitGraph build() { return build_graph(app, services, options, host); }
};

std::vector<std::string> roles(const UnitGraph& g, const std::vector<size_t>& units) {
  std::vector<std::string> out;
  for (size_t u : units) out.push_back(g.units[u].role);
  return out;
}

// The units in the order they can become ready: each wave needs only what earlier waves hold.
std::vector<std::vector<std::string>> waves(const UnitGraph& g) {
  std::vector<bool> ready(g.units.size(), false);
  std::vector<std::vector<std::string>> out;
  for (size_t left = g.units.size(); left > 0;) {
    std::vector<size_t> wave;
    for (size_t u = 0; u < g.units.size(); ++u)
      if (!ready[u] && std::all_of(g.needs[u].begin(), g.needs[u].end(), [&](size_t n) { return ready[n]; }))
        wave.push_back(u);
    if (wave.empty()) break;
    for (size_t u : wave) ready[u] = true;
    left -= wave.size();
    out.push_back(roles(g, wave));
  }
  return out;
}

std::string error_of(World& w) {
  try {
    w.build();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

config::ServiceDependency db() {
  config::ServiceDependency d;
  d.name = "db";
  d.command = "exec db-server";
  return d;
}

}  // namespace

TEST(UnitGraph, ExocomAndDependenciesFirstThenServicesInDependsOnOrder) {
  World w;
  w.service("users").dependencies.push_back(db());
  w.service("web", 0, {"users"});
  w.service("tweets").dependencies.push_back(db());  // the same db: one unit
  UnitGraph g = w.build();
  EXPECT_EQ(roles(g, {0, 1, 2, 3, 4}), (std::vector<std::string>{"exocom", "db", "users", "web", "tweets"}));
  EXPECT_EQ(roles(g, g.needs[2]), (std::vector<std::string>{"exocom", "db"}));
  EXPECT_EQ(roles(g, g.needs[3]), (std::vector<std::string>{"exocom", "users"}));
  EXPECT_EQ(waves(g), (std::vector<std::vector<std::string>>{{"exocom", "db"}, {"users", "tweets"}, {"web"}}));
  EXPECT_EQ(g.units[2].service, &w.services.at("users"));
  EXPECT_EQ(g.units[2].command, "exec users");
}

TEST(UnitGraph, BusNodesNeedNatsServer) {
  World w;
  w.options.bus_nodes = 2;
  w.service("users");
  UnitGraph g = w.build();
  ASSERT_TRUE(g.nats);
  EXPECT_EQ(roles(g, g.buses), (std::vector<std::string>{"exocom-1", "exocom-2"}));
  EXPECT_EQ(waves(g), (std::vector<std::vector<std::string>>{{"nats"}, {"exocom-1", "exocom-2"}, {"users"}}));
  EXPECT_EQ(g.units[*g.nats].command, "/usr/bin/nats-server -a 127.0.0.1 -p 50000 -js -sd /app/.exosphere/data/nats");
}

TEST(UnitGraph, BusNodesWithoutNatsServerSaySo) {
  World w;
  w.options.bus_nodes = 2;
  w.host.find_program = [](const std::string&) { return std::string(); };
  EXPECT_EQ(error_of(w),
            "--bus-nodes needs nats-server on PATH (Debian: apt install nats-server); run without --bus-nodes for one ExoCom");
}

TEST(UnitGraph, ACycleIsReportedWithItsPath) {
  World w;
  w.service("a", 0, {"b"});
  w.service("b", 0, {"c"});
  w.service("c", 0, {"a"});
  EXPECT_EQ(error_of(w), "services depend on each other in a circle: a → b → c → a");
}

TEST(UnitGraph, PortsAreDistinct) {
  World w;
  w.options.bus_nodes = 1;
  w.service("users").dependencies.push_back(db());
  w.service("web");
  w.service("api", 3000);
  UnitGraph g = w.build();
  std::set<uint16_t> ports;
  for (const auto& u : g.units) {
    if (u.kind == UnitSpec::Kind::exocom) continue;  // ExoCom picks its own port and says which
    EXPECT_TRUE(ports.insert(u.port).second) << u.role << " got port " << u.port;
  }
  EXPECT_EQ(ports.size(), 5u);  // nats, db, users, web, api
  EXPECT_TRUE(ports.count(3000));
}

TEST(UnitGraph, OnePortForTwoServicesIsRefused) {
  World w;
  w.service("users", 4000);
  w.service("web", 4000);
  EXPECT_EQ(error_of(w), "port 4000 is given to two services; change one of them in its service.yml");
}

TEST(UnitGraph, APortInUseIsRefused) {
  World w;
  w.service("web", 3000);
  w.in_use.insert(3000);
  EXPECT_EQ(error_of(w), "port 3000 of 'web' is already in use; stop what uses it or change the port in web/service.yml");
  w.options.ports["web"] = 3001;
  w.in_use.insert(3001);
  EXPECT_EQ(error_of(w), "port 3001 (--port web=3001) is already in use");
}
