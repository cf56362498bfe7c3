// ExoCom, the message bus: broker core, WebSocket transport, HTTP endpoints.
#pragma once

#include "exocom/broker.hpp"
#include "exocom/options.hpp"
#include "exocom/server.hpp"
