#pragma once

#include <exosphere/exosphere.hpp>
#include <exosphere/http.hpp>

// The pages of the {{appName}} web server. Each route may ask other services over the bus.
void add_routes(exosphere::http::Server& web, exosphere::Relay& bus);
