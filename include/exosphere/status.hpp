#pragma once

// The one error vocabulary of the Exosphere SDK: every failure an SDK call can report is a Status,
// carried by exosphere::Error.

#include <stdexcept>
#include <string>

namespace exosphere {

enum class Status {
  ok,
  invalid_argument,   // an empty message name, a handler registered twice, ...
  config_error,       // a missing or invalid ROLE / EXOCOM_HOST / EXOCOM_PORT
  not_connected,      // the relay is closed or its outbox is full while offline
  timeout,            // no reply within the request's timeout
  refused,            // ExoCom refused the message (exocom.error)
  closed,             // the relay was closed while the call waited
  protocol_error,     // ExoCom sent something that is not an ExoCom message
  store_error,        // the database failed or cannot be reached
  busy,               // ExoCom has not accepted what this relay already sent: a slow receiver
};

const char* to_string(Status status);

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

}  // namespace exosphere
