#include "exosphere/service.hpp"

#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

namespace exosphere {

Message Request::reply(const std::string& name, json::value payload) {
  SendOptions o;
  o.activity_id = message_->activity_id;
  o.auth = message_->auth;
  o.is_security = message_->is_security;
  return Relay::send_through(*relay_, name, std::move(payload), std::move(o));
}

Message Request::send(const std::string& name, json::value payload) {
  SendOptions o;
  o.auth = message_->auth;
  return Relay::send_through(*relay_, name, std::move(payload), std::move(o));
}

Reply Request::request(const std::string& name, json::value payload, std::chrono::milliseconds timeout) {
  SendOptions o;
  o.auth = message_->auth;
  return Relay::request_through(*relay_, name, std::move(payload), timeout, std::move(o));
}

struct Service::Stopper {
  std::mutex mutex;
  std::condition_variable cv;
  bool stopped = false;
  void stop() {
    {
      std::lock_guard lock(mutex);
      stopped = true;
    }
    cv.notify_all();
  }
  // Waits until stopped or `pred` holds, checking `pred` every `step`.
  template <typename Pred>
  void wait(Pred pred, std::chrono::milliseconds step) {
    std::unique_lock lock(mutex);
    while (!stopped && !pred()) cv.wait_for(lock, step);
  }
};

Service::Service() : Service(RelayConfig::from_environment()) {}

Service::Service(RelayConfig config) : relay_(std::move(config)), stopper_(std::make_shared<Stopper>()) {}

Service::~Service() { relay_.close(); }

void Service::before_all(std::function<void()> hook) { before_all_ = std::move(hook); }

void Service::on_stop(std::function<void()> hook) { stop_hooks_.push_back(std::move(hook)); }

void Service::on(const std::string& name, Handler handler) {
  if (!handler) throw Error(Status::invalid_argument, "the handler for '" + name + "' is empty");
  relay_.on_shared(name, [&relay = relay_, name, handler = std::move(handler)](const std::shared_ptr<const Message>& m) {
    Request request(relay, m);
    try {
      handler(m->payload, request);
    } catch (const std::exception& e) {
      // The service keeps running; the sender gets no reply (and its request times out).
      std::cerr << "exosphere: the handler for '" << name << "' failed: " << e.what() << std::endl;
    } catch (...) {
      std::cerr << "exosphere: the handler for '" << name << "' failed" << std::endl;
    }
  });
}

void Service::stop() { stopper_->stop(); }

int Service::run() {
  // SIGINT and SIGTERM go to a thread of their own. This thread blocks them from here on; the
  // threads of the SDK (relay, HTTP server) block them whenever they were started.
  sigset_t signals, previous;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  auto stopper = stopper_;
  std::thread signal_thread([stopper, signals] {
    timespec step{0, 100'000'000};
    while (true) {
      {
        std::lock_guard lock(stopper->mutex);
        if (stopper->stopped) return;
      }
      if (sigtimedwait(&signals, nullptr, &step) > 0) return stopper->stop();
    }
  });
  // The stop (docs/architecture.md, "Stopping"): what else takes work stops first (its requests
  // may still ask other services), then the relay finishes its handlers and hands back the rest.
  auto finish = [&](int code) {
    stopper->stop();
    for (auto& hook : stop_hooks_) {
      try {
        hook();
      } catch (const std::exception& e) {
        std::cerr << "exosphere: a stop hook failed: " << e.what() << std::endl;
        code = 1;
      }
    }
    if (!relay_.close()) code = 1;
    signal_thread.join();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return code;
  };
  try {
    if (before_all_) before_all_();
  } catch (const std::exception& e) {
    std::cerr << "exosphere: before_all failed: " << e.what() << std::endl;
    return finish(1);
  }
  relay_.start();
  bool online = false;
  stopper->wait([&] { return online = relay_.online(); }, std::chrono::milliseconds(20));
  if (online) {
    std::printf("online at port %u\n", relay_.config().port);
    std::fflush(stdout);
  }
  stopper->wait([] { return false; }, std::chrono::milliseconds(500));
  return finish(0);
}

}  // namespace exosphere
