// SQLite: one table per collection, the document as JSON text, `seq` for insertion order, WAL.
#include <sqlite3.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "store/backends.hpp"

namespace exosphere::store {

bool plain_key(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

namespace {

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
      throw Error(Status::store_error, std::string("SQLite: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  void bind(int i, const std::string& text) { sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT); }
  void bind(int i, const json::value& v) {
    if (v.is_string()) bind(i, std::string(v.get_string()));
    else if (v.is_int64()) sqlite3_bind_int64(stmt_, i, v.get_int64());
    else if (v.is_uint64()) sqlite3_bind_int64(stmt_, i, static_cast<sqlite3_int64>(v.get_uint64()));
    else if (v.is_double()) sqlite3_bind_double(stmt_, i, v.get_double());
    else if (v.is_bool()) sqlite3_bind_int(stmt_, i, v.get_bool() ? 1 : 0);
    else sqlite3_bind_null(stmt_, i);
  }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(Status::store_error, std::string("SQLite: ") + sqlite3_errmsg(db_));
  }
  Document document(int column) {
    auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    boost::system::error_code ec;
    auto v = json::parse(text ? text : "{}", ec);
    if (ec || !v.is_object()) throw Error(Status::store_error, "SQLite: a stored document is not valid JSON");
    return std::move(v.get_object());
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteStore : public Store {
 public:
  explicit SqliteStore(const StoreConfig& c) : table_("\"" + c.collection + "\"") {
    if (sqlite3_open_v2(c.sqlite_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(Status::store_error, "cannot open the SQLite database " + c.sqlite_path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS " + table_ +
         " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, doc TEXT NOT NULL)");
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  Document insert(Document doc) override {
    doc["id"] = new_id();
    Statement s(db_, "INSERT INTO " + table_ + " (id, doc) VALUES (?, ?)");
    s.bind(1, std::string(doc["id"].get_string()));
    s.bind(2, json::serialize(doc));
    s.step();
    return doc;
  }

  void insert_many(std::vector<Document> docs) override {
    exec("BEGIN IMMEDIATE");
    try {
      for (auto& d : docs) insert(std::move(d));
      exec("COMMIT");
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }

  std::optional<Document> find_first(const Document& query) override {
    for (auto& d : select(query, {.limit = 1}).documents) return std::move(d);
    return std::nullopt;
  }

  std::optional<Document> update(const std::string& id, const Document& fields) override {
    exec("BEGIN IMMEDIATE");
    try {
      auto found = by_id(id);
      if (!found) {
        exec("COMMIT");
        return std::nullopt;
      }
      for (const auto& [k, v] : fields)
        if (k != "id") (*found)[k] = v;
      Statement s(db_, "UPDATE " + table_ + " SET doc = ? WHERE id = ?");
      s.bind(1, json::serialize(*found));
      s.bind(2, id);
      s.step();
      exec("COMMIT");
      return found;
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }

  std::optional<Document> remove(const std::string& id) override {
    exec("BEGIN IMMEDIATE");
    try {
      auto found = by_id(id);
      if (found) {
        Statement s(db_, "DELETE FROM " + table_ + " WHERE id = ?");
        s.bind(1, id);
        s.step();
      }
      exec("COMMIT");
      return found;
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }

  Listing list(const Document& filter, const Window& window) override { return select(filter, window); }

  void clear() override { exec("DELETE FROM " + table_); }
  std::string backend() const override { return "sqlite"; }

 private:
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "unknown error";
      sqlite3_free(err);
      throw Error(Status::store_error, "SQLite: " + why);
    }
  }

  std::optional<Document> by_id(const std::string& id) {
    Statement s(db_, "SELECT doc FROM " + table_ + " WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return s.document(0);
  }

  // Scalar fields with plain names narrow the query in SQL (as bound parameters); every document
  // is then checked exactly, so names and values never become SQL.
  Listing select(const Document& query, const Window& window) {
    WindowFill fill(query, window);
    std::string sql = "SELECT doc FROM " + table_;
    std::vector<std::pair<std::string, json::value>> binds;
    std::string where;
    if (auto it = query.find("id"); it != query.end() && it->value().is_string()) {
      where = "id = ?";
      binds.emplace_back("", it->value());
    }
    for (const auto& [k, v] : query) {
      if (k == "id" || !plain_key(k) || !(v.is_string() || v.is_int64() || v.is_uint64() || v.is_double())) continue;
      where += std::string(where.empty() ? "" : " AND ") + "json_extract(doc, ?) = ?";
      binds.emplace_back("$.\"" + std::string(k) + "\"", v);
    }
    if (!where.empty()) sql += " WHERE " + where;
    sql += window.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
    // Without a query every row matches, so the database can stop early; with one, rows are checked below.
    if (query.empty() && fill.rows_needed()) sql += " LIMIT " + std::to_string(fill.rows_needed());
    Statement s(db_, sql);
    int i = 1;
    for (const auto& [path, v] : binds) {
      if (!path.empty()) s.bind(i++, path);
      s.bind(i++, v);
    }
    while (s.step())
      if (!fill.add(s.document(0))) break;
    return fill.take();
  }

  sqlite3* db_ = nullptr;
  std::string table_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const StoreConfig& config) { return std::make_unique<SqliteStore>(config); }

}  // namespace exosphere::store
