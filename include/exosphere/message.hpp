#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/json/value.hpp>

namespace exosphere {

namespace json = boost::json;

// One ExoCom message as a service sees it.
struct Message {
  std::string name;
  std::string id;
  std::string activity_id;  // the workflow it belongs to; replies share it
  std::string sender;       // the role that sent it
  json::value payload;      // null when the message has none
  json::value auth;         // opaque session data, null when absent
  bool is_security = false;
  std::string timestamp;    // when ExoCom forwarded it (RFC 3339)
  std::chrono::nanoseconds response_time{0};  // since the previous message of the activity
};

struct SendOptions {
  std::string activity_id;  // empty: a new activity
  json::value auth;         // null: none
  bool is_security = false;
};

}  // namespace exosphere
