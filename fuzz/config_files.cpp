// libFuzzer target: application.yml and service.yml as users write them, broken in every way. Each
// either loads or fails with a UserError (one line naming the file): never another exception, a
// crash or a hang. What loads must compile into routes that read back the same.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "common/error.hpp"
#include "config/config.hpp"

using namespace exo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  config::Warnings warnings;
  try {
    auto service = config::parse_service(text, "service.yml", "/fuzz/svc", warnings);
    (void)service;
  } catch (const UserError& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) {
      std::fprintf(stderr, "a multi-line error: %s\n", e.what());
      std::abort();
    }
  }
  try {
    auto app = config::parse_application(text, "application.yml", "/fuzz", warnings);
    std::map<std::string, config::Service> services;
    for (const auto& ref : app.services) {
      config::Service s;
      s.sends = {"ping"};
      s.receives = {"pong"};
      services.emplace(ref.role, s);
    }
    std::string data_json = config::to_service_data(config::compile_routes(app, services));
    auto table = config::parse_routes(data_json, "SERVICE_DATA");
    if (config::to_service_data(table) != data_json) {
      std::fprintf(stderr, "routes do not read back the same:\n%s\n", data_json.c_str());
      std::abort();
    }
  } catch (const UserError& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) {
      std::fprintf(stderr, "a multi-line error: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
