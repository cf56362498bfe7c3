#pragma once

#include <exosphere/exosphere.hpp>

// The messages {{serviceRole}} handles; main.cpp and the tests register the same ones.
void register_handlers(exosphere::Service& service);
