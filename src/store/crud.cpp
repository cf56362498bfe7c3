// The store vocabulary: what each request answers, including the original's defects fixed
// (docs/services.md): a missing required field is not-created (no crash), an update with
// unchanged values is updated, a database error is an error reply and the service goes on.
#include <boost/json/serialize.hpp>

#include "exosphere/crud.hpp"
#include "store/validation.hpp"

namespace exosphere::store {

namespace {

Vocabulary make(const std::string& collection_prefix, const std::string& record_prefix, const std::string& field,
                const std::string& list_key) {
  const std::string& c = collection_prefix;
  const std::string& r = record_prefix;
  Vocabulary v;
  v.create = c + ".create";
  v.create_many = c + ".create-many";
  v.get_details = r + ".get-details";
  v.update = r + ".update";
  v.remove = r + ".delete";
  v.list = c + ".list";
  v.created = c + ".created";
  v.created_many = c + ".created-many";
  v.not_created = c + ".not-created";
  v.not_created_many = c + ".not-created-many";
  v.details = r + ".details";
  v.not_found = r + ".not-found";
  v.updated = r + ".updated";
  v.deleted = r + ".deleted";
  v.listed = c + ".listed";
  v.error = c + ".error";
  v.required_field = field;
  v.list_key = list_key;
  return v;
}

std::string capitalized(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

json::object error_payload(const std::string& message) { return json::object{{"error", message}}; }

}  // namespace

void handle_remove(Store& store, const Vocabulary& v, const json::value& payload, Request& req,
                   const std::function<Document(Document)>& shown) {
  Document query = payload.is_object() ? payload.get_object() : Document{};
  const json::value* id = query.if_contains("id");
  if (id && !(id->is_string() && valid_id(id->get_string()))) return void(req.reply(v.not_found, json::object{{"id", *id}}));
  if (!id) return void(req.reply(v.not_found, query));
  try {
    auto removed = store.remove(std::string(id->get_string()));
    if (removed) req.reply(v.deleted, shown(std::move(*removed)));
    else req.reply(v.not_found, query);
  } catch (const Error& e) {
    req.reply(v.error, error_payload(e.what()));
  }
}

bool window_of(const json::value& payload, Window& window, std::string& problem) {
  const json::object* o = payload.if_object();
  if (!o) return true;
  constexpr int64_t kMaxLimit = 1000;
  constexpr int64_t kMaxSkip = 1'000'000'000;  // far beyond any listing, and skip + limit cannot overflow
  auto count = [&](const char* key, int64_t low, int64_t high, size_t& out) {
    const json::value* v = o->if_contains(key);
    if (!v || v->is_null()) return true;
    int64_t n = v->is_int64() ? v->get_int64() : v->is_uint64() && v->get_uint64() <= uint64_t(high) ? int64_t(v->get_uint64()) : -1;
    if (n < low || n > high) {
      problem = std::string(key) + " must be a whole number from " + std::to_string(low) + " to " + std::to_string(high);
      return false;
    }
    out = static_cast<size_t>(n);
    return true;
  };
  if (!count("limit", 1, kMaxLimit, window.limit) || !count("skip", 0, kMaxSkip, window.skip)) return false;
  if (const json::value* newest = o->if_contains("newest_first"); newest && !newest->is_null()) {
    if (!newest->is_bool()) {
      problem = "newest_first must be true or false";
      return false;
    }
    window.newest_first = newest->get_bool();
  }
  return true;
}

std::string creation_problem(const json::value& doc, const std::string& field) {
  const json::object* o = doc.if_object();
  if (!o) return "expected an object with the fields of the new entry";
  if (field.empty()) return "";
  auto it = o->find(field);
  if (it == o->end() || it->value().is_null()) return capitalized(field) + " cannot be blank";
  if (!it->value().is_string()) return capitalized(field) + " must be text";
  if (it->value().get_string().empty()) return capitalized(field) + " cannot be blank";
  return "";
}

Vocabulary Vocabulary::mongo() { return make("mongo", "mongo", "content", "entries"); }
Vocabulary Vocabulary::tweets() { return make("tweets", "tweets", "content", "entries"); }
Vocabulary Vocabulary::users() {
  Vocabulary v = make("users", "user", "name", "users");
  v.owner_filter = false;
  return v;
}
Vocabulary Vocabulary::model(const std::string& name) {
  Vocabulary v = make(name, name, "", "entries");
  return v;
}

std::vector<std::string> Vocabulary::receives() const { return {create, create_many, get_details, update, remove, list}; }
std::vector<std::string> Vocabulary::sends() const {
  return {created, created_many, not_created, not_created_many, details, not_found, updated, deleted, listed, error};
}

void register_crud(Service& service, Store& store, const Vocabulary& v) {
  service.on(v.create, [&store, v](const json::value& payload, Request& req) {
    if (auto problem = creation_problem(payload, v.required_field); !problem.empty())
      return void(req.reply(v.not_created, error_payload(problem)));
    try {
      req.reply(v.created, store.insert(payload.get_object()));
    } catch (const Error& e) {
      req.reply(v.not_created, error_payload(e.what()));
    }
  });

  service.on(v.create_many, [&store, v](const json::value& payload, Request& req) {
    const json::array* list = payload.if_array();
    if (!list) return void(req.reply(v.not_created_many, error_payload("expected a list of entries")));
    std::vector<Document> docs;
    for (const auto& item : *list) {
      // All or nothing: one bad entry and none is stored.
      if (auto problem = creation_problem(item, v.required_field); !problem.empty())
        return void(req.reply(v.not_created, error_payload(problem)));
      docs.push_back(item.get_object());
    }
    try {
      size_t count = docs.size();
      store.insert_many(std::move(docs));
      req.reply(v.created_many, json::object{{"count", count}});
    } catch (const Error& e) {
      req.reply(v.not_created_many, error_payload(e.what()));
    }
  });

  service.on(v.get_details, [&store, v](const json::value& payload, Request& req) {
    Document query = payload.is_object() ? payload.get_object() : Document{};
    if (auto it = query.find("id"); it != query.end() && !(it->value().is_string() && valid_id(it->value().get_string())))
      return void(req.reply(v.not_found, query));
    try {
      auto found = store.find_first(query);
      if (found) req.reply(v.details, *found);
      else req.reply(v.not_found, query);
    } catch (const Error& e) {
      req.reply(v.error, error_payload(e.what()));
    }
  });

  service.on(v.update, [&store, v](const json::value& payload, Request& req) {
    const json::object* o = payload.if_object();
    const json::value* id = o ? o->if_contains("id") : nullptr;
    if (!id) return void(req.reply(v.not_found, json::object{}));
    if (!id->is_string() || !valid_id(id->get_string())) return void(req.reply(v.not_found, json::object{{"id", *id}}));
    try {
      auto updated = store.update(std::string(id->get_string()), *o);
      if (updated) req.reply(v.updated, *updated);
      else req.reply(v.not_found, json::object{});
    } catch (const Error& e) {
      req.reply(v.error, error_payload(e.what()));
    }
  });

  service.on(v.remove, [&store, v](const json::value& payload, Request& req) {
    handle_remove(store, v, payload, req, [](Document d) { return d; });
  });

  service.on(v.list, [&store, v](const json::value& payload, Request& req) {
    Document filter;
    if (v.owner_filter)
      if (const auto* o = payload.if_object())
        if (const auto* owner = o->if_contains("owner_id")) {
          // As the original: any truthy owner_id filters, compared as text (1 matches "1").
          bool truthy = !(owner->is_null() || (owner->is_string() && owner->get_string().empty()) ||
                          (owner->is_number() && owner->to_number<double>() == 0) || (owner->is_bool() && !owner->get_bool()));
          if (truthy) filter["owner_id"] = owner->is_string() ? std::string(owner->get_string()) : json::serialize(*owner);
        }
    Window window;
    if (std::string problem; !window_of(payload, window, problem)) return void(req.reply(v.error, error_payload(problem)));
    try {
      auto listing = store.list(filter, window);
      json::array entries;
      for (auto& d : listing.documents) entries.emplace_back(std::move(d));
      json::object reply{{"count", entries.size()}};
      reply[v.list_key] = std::move(entries);
      if (window.limit) reply["more"] = listing.more;
      req.reply(v.listed, std::move(reply));
    } catch (const Error& e) {
      req.reply(v.error, error_payload(e.what()));
    }
  });
}

}  // namespace exosphere::store
