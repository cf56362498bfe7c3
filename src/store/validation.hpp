#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace exosphere::store {

// Why `doc` cannot be created (`field` must be non-blank text), or empty when it can.
std::string creation_problem(const boost::json::value& doc, const std::string& field);

}  // namespace exosphere::store
