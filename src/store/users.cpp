// The users service: the store vocabulary for users, with passwords hashed (argon2id, libsodium)
// and never part of a reply, and user.authenticate.
#include <sodium.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "exosphere/crud.hpp"
#include "store/validation.hpp"

namespace exosphere::store {

namespace {

constexpr const char* kHash = "password_hash";

Document without_secrets(Document d) {
  d.erase(kHash);
  d.erase("password");
  return d;
}

// Replaces a "password" field by its hash; false when there is a password that is not text.
bool hash_password(Document& d) {
  auto it = d.find("password");
  if (it == d.end()) return true;
  if (!it->value().is_string()) return false;
  std::string password(it->value().get_string());
  char hashed[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hashed, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw Error(Status::store_error, "not enough memory to hash a password");
  d.erase("password");
  d[kHash] = hashed;
  return true;
}

// Checked against when the name is unknown, so that answer takes as long as a wrong password.
const std::string& stand_in_hash() {
  static const std::string hash = [] {
    char hashed[crypto_pwhash_STRBYTES];
    unsigned char random[16];
    randombytes_buf(random, sizeof random);
    if (crypto_pwhash_str(hashed, reinterpret_cast<const char*>(random), sizeof random, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
      throw Error(Status::store_error, "not enough memory to hash a password");
    return std::string(hashed);
  }();
  return hash;
}

}  // namespace

void register_users(Service& service, Store& store) {
  if (sodium_init() < 0) throw Error(Status::store_error, "libsodium could not start");
  const Vocabulary v = Vocabulary::users();
  // Names are how people log in: one account per name. Checking and storing under one lock keeps
  // two sign-ups at once in this service from both getting a name (several instances of the
  // service over one database can still race; docs/services.md).
  auto names = std::make_shared<std::mutex>();
  auto taken = [&store](const json::value& name, const std::string& except_id = "") {
    auto found = store.find_first(Document{{"name", name}});
    return found && (except_id.empty() || found->at("id") != json::value(except_id));
  };
  auto taken_error = [](const json::value& name) {
    return json::object{{"error", "Name '" + std::string(name.is_string() ? name.get_string() : "") + "' is taken"}};
  };

  service.on(v.create, [&store, v, names, taken, taken_error](const json::value& payload, Request& req) {
    if (auto problem = creation_problem(payload, "name"); !problem.empty())
      return void(req.reply(v.not_created, json::object{{"error", problem}}));
    Document user = payload.get_object();
    try {
      if (!hash_password(user)) return void(req.reply(v.not_created, json::object{{"error", "Password must be text"}}));
      std::lock_guard lock(*names);
      if (taken(user.at("name"))) return void(req.reply(v.not_created, taken_error(user.at("name"))));
      req.reply(v.created, without_secrets(store.insert(std::move(user))));
    } catch (const Error& e) {
      req.reply(v.not_created, json::object{{"error", e.what()}});
    }
  });

  service.on(v.create_many, [&store, v, names, taken, taken_error](const json::value& payload, Request& req) {
    const auto* list = payload.if_array();
    if (!list) return void(req.reply(v.not_created_many, json::object{{"error", "expected a list of users"}}));
    std::vector<Document> users;
    for (const auto& item : *list) {
      if (auto problem = creation_problem(item, "name"); !problem.empty())
        return void(req.reply(v.not_created, json::object{{"error", problem}}));
      users.push_back(item.get_object());
    }
    try {
      for (auto& u : users)
        if (!hash_password(u)) return void(req.reply(v.not_created, json::object{{"error", "Password must be text"}}));
      std::lock_guard lock(*names);
      for (size_t i = 0; i < users.size(); ++i) {
        const json::value& name = users[i].at("name");
        bool twice = std::any_of(users.begin(), users.begin() + static_cast<std::ptrdiff_t>(i),
                                 [&](const Document& earlier) { return earlier.at("name") == name; });
        if (twice || taken(name)) return void(req.reply(v.not_created, taken_error(name)));
      }
      size_t count = users.size();
      store.insert_many(std::move(users));
      req.reply(v.created_many, json::object{{"count", count}});
    } catch (const Error& e) {
      req.reply(v.not_created_many, json::object{{"error", e.what()}});
    }
  });

  service.on(v.get_details, [&store, v](const json::value& payload, Request& req) {
    Document query = payload.is_object() ? payload.get_object() : Document{};
    query.erase("password");  // never a way to probe hashes
    query.erase(kHash);
    if (auto it = query.find("id"); it != query.end() && !(it->value().is_string() && valid_id(it->value().get_string())))
      return void(req.reply(v.not_found, query));
    try {
      auto found = store.find_first(query);
      if (found) req.reply(v.details, without_secrets(*found));
      else req.reply(v.not_found, query);
    } catch (const Error& e) {
      req.reply(v.error, json::object{{"error", e.what()}});
    }
  });

  service.on(v.update, [&store, v, names, taken, taken_error](const json::value& payload, Request& req) {
    const auto* o = payload.if_object();
    const json::value* id = o ? o->if_contains("id") : nullptr;
    if (!id) return void(req.reply(v.not_found, json::object{}));
    if (!id->is_string() || !valid_id(id->get_string())) return void(req.reply(v.not_found, json::object{{"id", *id}}));
    Document fields = *o;
    fields.erase(kHash);
    try {
      if (!hash_password(fields)) return void(req.reply(v.error, json::object{{"error", "Password must be text"}}));
      std::lock_guard lock(*names);
      if (const json::value* name = fields.if_contains("name"); name && taken(*name, std::string(id->get_string())))
        return void(req.reply(v.error, taken_error(*name)));
      auto updated = store.update(std::string(id->get_string()), fields);
      if (updated) req.reply(v.updated, without_secrets(*updated));
      else req.reply(v.not_found, json::object{});
    } catch (const Error& e) {
      req.reply(v.error, json::object{{"error", e.what()}});
    }
  });

  service.on(v.remove, [&store, v](const json::value& payload, Request& req) {
    handle_remove(store, v, payload, req, without_secrets);
  });

  service.on(v.list, [&store, v](const json::value& payload, Request& req) {
    Window window;
    if (std::string problem; !window_of(payload, window, problem))
      return void(req.reply(v.error, json::object{{"error", problem}}));
    try {
      json::array users;
      auto listing = store.list({}, window);
      for (auto& d : listing.documents) users.emplace_back(without_secrets(std::move(d)));
      json::object reply{{"count", users.size()}};
      reply["users"] = std::move(users);
      if (window.limit) reply["more"] = listing.more;
      req.reply(v.listed, std::move(reply));
    } catch (const Error& e) {
      req.reply(v.error, json::object{{"error", e.what()}});
    }
  });

  service.on("user.authenticate", [&store](const json::value& payload, Request& req) {
    const auto* o = payload.if_object();
    const json::value* name = o ? o->if_contains("name") : nullptr;
    const json::value* password = o ? o->if_contains("password") : nullptr;
    if (!name || !name->is_string() || !password || !password->is_string())
      return void(req.reply("user.not-authenticated", json::object{{"error", "name and password are required"}}));
    try {
      auto user = store.find_first(Document{{"name", *name}});
      const json::value* hash = user ? user->if_contains(kHash) : nullptr;
      std::string given(password->get_string());
      std::string stored = hash && hash->is_string() ? std::string(hash->get_string()) : stand_in_hash();
      bool verified = crypto_pwhash_str_verify(stored.c_str(), given.data(), given.size()) == 0;
      if (verified && hash && hash->is_string()) {
        req.reply("user.authenticated", json::object{{"id", user->at("id")}, {"name", user->at("name")}});
      } else {
        // The same answer whether the name or the password is wrong.
        req.reply("user.not-authenticated", json::object{{"name", *name}});
      }
    } catch (const Error& e) {
      req.reply("users.error", json::object{{"error", e.what()}});
    }
  });
}

}  // namespace exosphere::store
