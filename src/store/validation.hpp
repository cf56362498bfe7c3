#pragma once

#include <functional>
#include <string>

#include <boost/json/value.hpp>

#include "exosphere/crud.hpp"

namespace exosphere::store {

// Why `doc` cannot be created (`field` must be non-blank text), or empty when it can.
std::string creation_problem(const boost::json::value& doc, const std::string& field);

// The window a list request asks for ({limit, skip, newest_first}, each optional), or why it is not one.
bool window_of(const boost::json::value& payload, Window& window, std::string& problem);

// The delete request of every vocabulary: by id, replying `deleted` with the removed document as
// `shown` presents it, `not_found`, or `error`.
void handle_remove(Store& store, const Vocabulary& v, const boost::json::value& payload, Request& req,
                   const std::function<Document(Document)>& shown);

}  // namespace exosphere::store
