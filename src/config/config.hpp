// The configuration model: application.yml, service.yml, the route table, and the message lint.
#pragma once

#include "config/application.hpp"
#include "config/diagnostics.hpp"
#include "config/lint.hpp"
#include "config/routes.hpp"
#include "config/service.hpp"
#include "config/translation.hpp"
