#pragma once

// The message vocabulary of the generic store services (create, create-many, get-details, update,
// delete, list), registered on a Service over a Store.

#include <string>

#include "exosphere/service.hpp"
#include "exosphere/store.hpp"

namespace exosphere::store {

struct Vocabulary {
  // Requests.
  std::string create, create_many, get_details, update, remove, list;
  // Replies.
  std::string created, created_many, not_created, not_created_many, details, not_found, updated, deleted, listed, error;
  std::string required_field;  // must be non-blank text on create ("content", "name")
  std::string list_key;        // "entries", "users"
  bool owner_filter = true;    // list filters by owner_id

  // mongo.*, tweets.* (list key "entries"), users.*/user.* (list key "users"), and <model>.* for
  // services made from the exoservice-cpp-mongodb template.
  static Vocabulary mongo();
  static Vocabulary tweets();
  static Vocabulary users();
  static Vocabulary model(const std::string& name);
  std::vector<std::string> receives() const;
  std::vector<std::string> sends() const;
};

void register_crud(Service& service, Store& store, const Vocabulary& vocabulary);

// The users service: the users/user vocabulary, passwords hashed with argon2id (never returned in
// any reply), and user.authenticate {name, password} → user.authenticated {id, name} or
// user.not-authenticated.
void register_users(Service& service, Store& store);

}  // namespace exosphere::store
