// `exocom`: the message bus as a program. Configuration from flags, or the environment as the
// original (PORT, SERVICE_DATA, SERVICE_ROUTES).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "common/text.hpp"
#include "exocom/exocom.hpp"

namespace {

using namespace exo;

uint16_t parse_port(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    long v = std::stol(text, &used);
    if (used == text.size() && v >= 0 && v <= 65535) return static_cast<uint16_t>(v);
  } catch (const std::exception&) {
  }
  throw UserError(what + " '" + text + "' is not a port number (0-65535)");
}

config::RouteTable load_routes(const std::string& routes_file, bool dev_open) {
  if (!routes_file.empty()) return config::parse_routes(read_file(routes_file), display_path(routes_file));
  if (const char* data = std::getenv("SERVICE_DATA"); data && *data) return config::parse_routes(data, "SERVICE_DATA");
  if (const char* routes = std::getenv("SERVICE_ROUTES"); routes && *routes)
    return config::parse_routes(routes, "SERVICE_ROUTES");
  if (dev_open) return {};
  throw UserError("no routing table: set SERVICE_DATA or SERVICE_ROUTES, pass --routes FILE, or use --dev-open");
}

int run(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "version") {
    std::printf("%s\n", EXO_VERSION);
    return 0;
  }
  CLI::App app("ExoCom: the Exosphere message bus");
  app.set_version_flag("--version", std::string("exocom ") + EXO_VERSION);
  std::string host = "0.0.0.0", port_text, routes_file, log_format = "text";
  exocom::Options options;
  auto& lim = options.limits;
  long buffer_ttl = 60, security_timeout_ms = 5000, ping = 20, idle = 60, register_timeout = 10;
  app.add_option("--host", host, "address to listen on");
  app.add_option("--port", port_text, "port to listen on (default: $PORT, else 80; 0 lets the OS choose)");
  app.add_option("--routes", routes_file, "routing table file (SERVICE_DATA object or SERVICE_ROUTES array)");
  app.add_flag("--dev-open", options.dev_open, "accept any role and learn its routes from its registration");
  app.add_flag("--log-payloads", options.log_payloads, "print each delivered payload");
  app.add_flag("--quiet", options.quiet, "no message trace, only warnings and errors");
  app.add_option("--cloudwatch-metrics", options.metrics_application,
                 "print message counts as CloudWatch metrics (Embedded Metric Format) for this application");
  int metrics_seconds = 60;
  app.add_option("--metrics-interval", metrics_seconds, "seconds between two lines of --cloudwatch-metrics (default 60)");
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--max-message-size", lim.max_message_bytes, "largest message in bytes (default 1 MiB)");
  app.add_option("--send-queue-bytes", lim.send_queue_bytes, "per connection; beyond it a slow consumer is cut off");
  app.add_option("--buffer-messages", lim.buffer_messages, "messages held per role without instances");
  app.add_option("--buffer-bytes", lim.buffer_bytes, "bytes held per role without instances");
  app.add_option("--buffer-ttl", buffer_ttl, "seconds a held message waits before it is dropped");
  app.add_option("--security-timeout", security_timeout_ms, "milliseconds the security service has for a verdict");
  app.add_option("--ping-interval", ping, "seconds of silence before ExoCom pings a connection");
  app.add_option("--idle-timeout", idle, "seconds of silence before ExoCom closes a connection");
  app.add_option("--register-timeout", register_timeout, "seconds a new connection has to register");
  std::vector<std::string> cluster_urls;
  exocom::ClusterOptions cluster;
  long heartbeat_ms = 1000;
  app.add_option("--cluster", cluster_urls,
                 "join a cluster of ExoCom nodes through NATS: nats://host:port (comma-separated or repeated; default "
                 "$EXOCOM_CLUSTER)")
      ->delimiter(',');
  app.add_option("--node-name", cluster.node, "this node's name in the cluster (default: host name and process id)");
  app.add_option("--cluster-name", cluster.name, "the nodes of one application share it (default exocom)");
  app.add_option("--heartbeat", heartbeat_ms, "milliseconds between a node's announcements; silent for two: gone (default 1000)");
  app.add_option("--held-replicas", cluster.held_replicas,
                 "copies JetStream keeps of each held message, with a NATS cluster (default 1)");
  std::string gateway_port_text;
  exocom::GatewayOptions gateway;
  app.add_option("--gateway-port", gateway_port_text, "also serve browsers on this port (0: the OS chooses)");
  app.add_option("--gateway-role", gateway.role, "the role browsers' messages have on the bus (default browser)");
  app.add_option("--gateway-origin", gateway.origins, "an allowed Origin (repeatable; default: localhost and 127.0.0.1)");
  app.add_option("--gateway-max-message-size", gateway.max_message_bytes, "largest browser message in bytes (default 64 KiB)");
  app.add_option("--gateway-rate", gateway.rate, "messages a second per browser (default 50)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    throw UserError(std::string(e.what()) + "; see 'exocom --help'");
  }
  for (long v : {buffer_ttl, security_timeout_ms, ping, idle, register_timeout})
    if (v <= 0) throw UserError("durations must be positive numbers");
  lim.buffer_ttl = std::chrono::seconds(buffer_ttl);
  lim.security_timeout = std::chrono::milliseconds(security_timeout_ms);
  lim.ping_interval = std::chrono::seconds(ping);
  lim.idle_timeout = std::chrono::seconds(idle);
  lim.register_timeout = std::chrono::seconds(register_timeout);
  lim.stop_timeout = stop_timeout_from_environment();
  options.log_format = log_format == "json" ? exocom::LogFormat::json : exocom::LogFormat::text;
  if (metrics_seconds < 1) throw UserError("--metrics-interval must be at least 1 second");
  options.metrics_interval = std::chrono::seconds(metrics_seconds);

  // From the environment only: a token on the command line would show in every `ps`.
  if (const char* token = std::getenv("EXOCOM_OBSERVE_TOKEN"); token && *token) {
    options.observe_token = token;
    if (options.observe_token.size() < 16) throw UserError("EXOCOM_OBSERVE_TOKEN must be at least 16 characters");
  }
  if (port_text.empty()) {
    const char* env = std::getenv("PORT");
    port_text = env && *env ? env : "80";
    if (env && *env) parse_port(port_text, "PORT");
  }
  exocom::Listen listen;
  listen.host = host;
  listen.port = parse_port(port_text, "--port");
  if (cluster_urls.empty())
    if (const char* env = std::getenv("EXOCOM_CLUSTER"); env && *env) cluster_urls = split(env, ',');
  if (!cluster_urls.empty()) {
    if (options.dev_open) throw UserError("--dev-open and --cluster exclude each other: every node must route the same way");
    if (heartbeat_ms < 50) throw UserError("--heartbeat must be at least 50 milliseconds");
    for (auto& u : cluster_urls) {
      u = std::string(trim(u));
      if (u.rfind("nats://", 0) != 0 || u.size() <= 7)
        throw UserError("--cluster '" + u + "' is not a NATS address; write nats://host:port");
    }
    if (cluster.node.empty()) {
      char host[256] = "node";
      gethostname(host, sizeof host - 1);
      cluster.node = std::string(host) + "-" + std::to_string(getpid());
    }
    cluster.urls = cluster_urls;
    cluster.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    if (cluster.held_replicas < 1 || cluster.held_replicas > 5) throw UserError("--held-replicas must be 1 to 5");
    cluster.held_max_age = lim.buffer_ttl;
    gateway.session_prefix = cluster.node + "~";
    listen.cluster = cluster;
  }
  if (!gateway_port_text.empty()) {
    if (gateway.rate <= 0) throw UserError("--gateway-rate must be a positive number of messages a second");
    listen.gateway = true;
    listen.gateway_port = parse_port(gateway_port_text, "--gateway-port");
    listen.gateway_options = gateway;
  }
  exocom::Server server(listen, load_routes(routes_file, options.dev_open), options);
  server.bind();
  return server.run();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a peer that vanishes is an error code, not a signal
  try {
    return run(argc, argv);
  } catch (const exo::UserError& e) {
    std::fprintf(stderr, "%s\n", exo::paint(std::string("Error: ") + e.what(), exo::Color::red, exo::colors_wanted(stderr)).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
}
