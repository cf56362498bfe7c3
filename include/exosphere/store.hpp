#pragma once

// Storage for the generic store services: one collection of JSON documents, kept in insertion
// order, behind one interface with three backends: SQLite (the default, a file in the service's
// data folder), PostgreSQL (JSONB) and MongoDB.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "exosphere/status.hpp"

namespace exosphere::store {

namespace json = boost::json;
using Document = json::object;

// Which part of a listing: `skip` matching documents left out, then at most `limit` (0: all), in
// insertion order or newest first.
struct Window {
  size_t skip = 0;
  size_t limit = 0;
  bool newest_first = false;
};

struct Listing {
  std::vector<Document> documents;
  bool more = false;  // matching documents follow the window
};

// Every document carries its "id": 24 lower-case hex digits, fresh on insert (a client's own "id"
// is not used). Failures of the database are Error(store_error).
class Store {
 public:
  virtual ~Store() = default;
  virtual Document insert(Document doc) = 0;
  // All or none.
  virtual void insert_many(std::vector<Document> docs) = 0;
  // The first document (insertion order) whose fields equal every field of `query`.
  virtual std::optional<Document> find_first(const Document& query) = 0;
  // Sets `fields` (except "id"); the document after the change, or nothing when there is none.
  virtual std::optional<Document> update(const std::string& id, const Document& fields) = 0;
  // The document as it was, or nothing when there is none.
  virtual std::optional<Document> remove(const std::string& id) = 0;
  // The documents matching `filter` (empty: all) in `window`.
  virtual Listing list(const Document& filter, const Window& window) = 0;
  virtual void clear() = 0;
  virtual std::string backend() const = 0;
};

struct StoreConfig {
  std::string collection;    // letters, digits and '_'
  std::string database;      // PostgreSQL database / MongoDB database name
  std::string postgres_url;  // set: PostgreSQL
  std::string mongodb_url;   // set: MongoDB
  std::string sqlite_path;   // otherwise SQLite at this file (":memory:" for tests)

  // POSTGRES_URL, else MONGODB_URL (or the original MONGO host), else SQLite in
  // $EXOSPHERE_DATA_DIR (or the working directory).
  static StoreConfig from_environment(const std::string& collection, const std::string& database);
};

std::unique_ptr<Store> open_store(const StoreConfig& config);

std::string new_id();
bool valid_id(std::string_view id);
// Whether every field of `query` equals the document's.
bool matches(const Document& doc, const Document& query);

}  // namespace exosphere::store
