// MongoDB through libmongoc: documents keep "_id" (an ObjectId made from our id), sorted by it.
#include <mongoc/mongoc.h>

#include <mutex>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "store/backends.hpp"

namespace exosphere::store {

namespace {

struct Bson {
  bson_t* b;
  explicit Bson(bson_t* p) : b(p) {}
  ~Bson() {
    if (b) bson_destroy(b);
  }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
};

Document from_bson(const bson_t* doc) {
  size_t len = 0;
  char* text = bson_as_relaxed_extended_json(doc, &len);
  boost::system::error_code ec;
  auto v = json::parse(std::string_view(text, len), ec);
  bson_free(text);
  if (ec || !v.is_object()) throw Error(Status::store_error, "MongoDB: a stored document is not valid JSON");
  Document d = std::move(v.get_object());
  if (auto it = d.find("_id"); it != d.end()) {
    if (auto* oid = it->value().if_object(); oid && oid->contains("$oid")) d["id"] = oid->at("$oid");
    d.erase("_id");
  }
  return d;
}

bson_t* to_bson(const Document& d, bool with_oid) {
  Document copy = d;
  std::string id = copy.contains("id") && copy.at("id").is_string() ? std::string(copy.at("id").get_string()) : "";
  copy.erase("id");
  std::string text = json::serialize(copy);
  bson_error_t err;
  bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(text.data()), static_cast<ssize_t>(text.size()), &err);
  if (!b) throw Error(Status::store_error, std::string("MongoDB: ") + err.message);
  if (with_oid && valid_id(id)) {
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id.c_str());
    BSON_APPEND_OID(b, "_id", &oid);
  }
  return b;
}

class MongoStore : public Store {
 public:
  explicit MongoStore(const StoreConfig& c) {
    static std::once_flag init;
    std::call_once(init, [] { mongoc_init(); });
    bson_error_t err;
    mongoc_uri_t* uri = mongoc_uri_new_with_error(c.mongodb_url.c_str(), &err);
    if (!uri) throw Error(Status::store_error, "MONGODB_URL is not a MongoDB URL: " + std::string(err.message));
    client_ = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    collection_ = mongoc_client_get_collection(client_, c.database.c_str(), c.collection.c_str());
    Bson ping(BCON_NEW("ping", BCON_INT32(1)));
    if (!mongoc_client_command_simple(client_, "admin", ping.b, nullptr, nullptr, &err))
      throw Error(Status::store_error, std::string("cannot reach MongoDB: ") + err.message);
  }
  ~MongoStore() override {
    mongoc_collection_destroy(collection_);
    mongoc_client_destroy(client_);
  }

  Document insert(Document doc) override {
    doc["id"] = new_id();
    Bson b(to_bson(doc, true));
    bson_error_t err;
    if (!mongoc_collection_insert_one(collection_, b.b, nullptr, nullptr, &err)) fail(err);
    return doc;
  }

  void insert_many(std::vector<Document> docs) override {
    if (docs.empty()) return;
    // A plain array: bson_t's alignment attribute does not survive as a template argument.
    auto** ptrs = static_cast<const bson_t**>(bson_malloc0(docs.size() * sizeof(bson_t*)));
    auto release = [&] {
      for (size_t i = 0; i < docs.size(); ++i)
        if (ptrs[i]) bson_destroy(const_cast<bson_t*>(ptrs[i]));
      bson_free(ptrs);
    };
    bson_error_t err;
    bool ok;
    try {
      for (size_t i = 0; i < docs.size(); ++i) {
        docs[i]["id"] = new_id();
        ptrs[i] = to_bson(docs[i], true);
      }
      // Validated before, so a failure here is the database's; ordered inserts stop at the first.
      ok = mongoc_collection_insert_many(collection_, ptrs, docs.size(), nullptr, nullptr, &err);
    } catch (...) {
      release();
      throw;
    }
    release();
    if (!ok) fail(err);
  }

  std::optional<Document> find_first(const Document& query) override {
    auto all = select(query, {.limit = 1}).documents;
    if (all.empty()) return std::nullopt;
    return std::move(all.front());
  }

  std::optional<Document> update(const std::string& id, const Document& fields) override {
    Document set = fields;
    set.erase("id");
    Bson filter(id_filter(id));
    if (!set.empty()) {
      Bson update(bson_new());
      Bson values(to_bson(set, false));
      BSON_APPEND_DOCUMENT(update.b, "$set", values.b);
      bson_error_t err;
      if (!mongoc_collection_update_one(collection_, filter.b, update.b, nullptr, nullptr, &err)) fail(err);
    }
    return one(filter.b);
  }

  std::optional<Document> remove(const std::string& id) override {
    Bson filter(id_filter(id));
    auto found = one(filter.b);
    if (!found) return std::nullopt;
    bson_error_t err;
    if (!mongoc_collection_delete_one(collection_, filter.b, nullptr, nullptr, &err)) fail(err);
    return found;
  }

  Listing list(const Document& filter, const Window& window) override { return select(filter, window); }

  void clear() override {
    Bson all(bson_new());
    bson_error_t err;
    if (!mongoc_collection_delete_many(collection_, all.b, nullptr, nullptr, &err)) fail(err);
  }
  std::string backend() const override { return "mongodb"; }

 private:
  [[noreturn]] static void fail(const bson_error_t& err) { throw Error(Status::store_error, std::string("MongoDB: ") + err.message); }

  static bson_t* id_filter(const std::string& id) {
    bson_t* b = bson_new();
    if (valid_id(id)) {
      bson_oid_t oid;
      bson_oid_init_from_string(&oid, id.c_str());
      BSON_APPEND_OID(b, "_id", &oid);
    }
    return b;
  }

  std::optional<Document> one(const bson_t* filter) {
    mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection_, filter, nullptr, nullptr);
    const bson_t* doc;
    std::optional<Document> out;
    if (mongoc_cursor_next(cursor, &doc)) out = from_bson(doc);
    bson_error_t err;
    bool failed = mongoc_cursor_error(cursor, &err);
    mongoc_cursor_destroy(cursor);
    if (failed) fail(err);
    return out;
  }

  Listing select(const Document& query, const Window& window) {
    WindowFill fill(query, window);
    Bson filter(query.contains("id") && query.at("id").is_string() ? id_filter(std::string(query.at("id").get_string()))
                                                                     : bson_new());
    // Ids sort by creation; without a query every document matches, so the server can stop early.
    Bson opts(query.empty() && fill.rows_needed()
                  ? BCON_NEW("sort", "{", "_id", BCON_INT32(window.newest_first ? -1 : 1), "}", "limit",
                             BCON_INT64(static_cast<int64_t>(fill.rows_needed())))
                  : BCON_NEW("sort", "{", "_id", BCON_INT32(window.newest_first ? -1 : 1), "}"));
    mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection_, filter.b, opts.b, nullptr);
    const bson_t* doc;
    while (mongoc_cursor_next(cursor, &doc))
      if (!fill.add(from_bson(doc))) break;
    bson_error_t err;
    bool failed = mongoc_cursor_error(cursor, &err);
    mongoc_cursor_destroy(cursor);
    if (failed) fail(err);
    return fill.take();
  }

  mongoc_client_t* client_ = nullptr;
  mongoc_collection_t* collection_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_mongo(const StoreConfig& config) { return std::make_unique<MongoStore>(config); }

}  // namespace exosphere::store
