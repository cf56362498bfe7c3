// A service for the stop tests (tests/integration/stop_test.cpp), built the way users build theirs.
//   stop_worker bus: answers `job` with `job.done` after JOB_MS milliseconds.
//   stop_worker web: an HTTP server built *before* its Service (as the htmlserver template does);
//                    GET /job?n=N asks the bus for `job` and answers with the reply's `n`.
// At exit it prints "handled <count>": how many jobs (or pages) it answered.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "exosphere/http.hpp"

namespace {

std::atomic<long> handled{0};

int bus_worker() {
  exosphere::Service service;
  const char* ms = std::getenv("JOB_MS");
  auto job_time = std::chrono::milliseconds(ms ? std::atoi(ms) : 1);
  service.on("job", [job_time](const exosphere::json::value& payload, exosphere::Request& request) {
    std::this_thread::sleep_for(job_time);
    request.reply("job.done", payload);
    ++handled;
  });
  return service.run();
}

int web_server() {
  exosphere::http::Server web;  // its threads start before the Service blocks any signal
  exosphere::Service service;
  web.get("/job", [&service](const exosphere::http::Request& request) {
    auto n = std::stol(request.field("n"));
    auto reply = service.relay().request("job", exosphere::json::object{{"n", n}}, std::chrono::seconds(10)).get();
    ++handled;
    return exosphere::http::Response::text(std::to_string(reply.payload.at("n").as_int64()));
  });
  service.on_stop([&] { web.stop(); });
  service.before_all([&] {
    std::printf("web at port %u\n", web.listen(0, "127.0.0.1"));
    std::fflush(stdout);
  });
  return service.run();
}

}  // namespace

int main(int argc, char** argv) {
  int code = 2;
  try {
    if (argc == 2 && std::strcmp(argv[1], "bus") == 0) code = bus_worker();
    else if (argc == 2 && std::strcmp(argv[1], "web") == 0) code = web_server();
    else std::cerr << "usage: stop_worker bus|web" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "stop_worker: " << e.what() << std::endl;
    code = 1;
  }
  std::printf("handled %ld\n", handled.load());
  std::fflush(stdout);
  return code;
}
