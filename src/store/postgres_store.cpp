// PostgreSQL: one table per collection, the document as JSONB, `seq` for insertion order. A lost
// connection is re-established on the next call; a call that fails is an Error(store_error).
#include <libpq-fe.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "store/backends.hpp"

namespace exosphere::store {

namespace {

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  Document document(int row) const {
    boost::system::error_code ec;
    auto v = json::parse(PQgetvalue(r_, row, 0), ec);
    if (ec || !v.is_object()) throw Error(Status::store_error, "PostgreSQL: a stored document is not valid JSON");
    return std::move(v.get_object());
  }

 private:
  PGresult* r_;
};

class PostgresStore : public Store {
 public:
  explicit PostgresStore(const StoreConfig& c) : url_(c.postgres_url), table_("\"" + c.collection + "\"") {
    connect();
    run("CREATE TABLE IF NOT EXISTS " + table_ + " (seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, doc JSONB NOT NULL)", {});
  }
  ~PostgresStore() override { PQfinish(conn_); }

  Document insert(Document doc) override {
    doc["id"] = new_id();
    run("INSERT INTO " + table_ + " (id, doc) VALUES ($1, $2::jsonb)", {std::string(doc["id"].get_string()), json::serialize(doc)});
    return doc;
  }

  void insert_many(std::vector<Document> docs) override {
    run("BEGIN", {});
    try {
      for (auto& d : docs) insert(std::move(d));
      run("COMMIT", {});
    } catch (...) {
      if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
      throw;
    }
  }

  std::optional<Document> find_first(const Document& query) override {
    auto all = select(query, {.limit = 1}).documents;
    if (all.empty()) return std::nullopt;
    return std::move(all.front());
  }

  std::optional<Document> update(const std::string& id, const Document& fields) override {
    Document set = fields;
    set.erase("id");
    auto r = run("UPDATE " + table_ + " SET doc = doc || $2::jsonb WHERE id = $1 RETURNING doc", {id, json::serialize(set)});
    if (r->rows() == 0) return std::nullopt;
    return r->document(0);
  }

  std::optional<Document> remove(const std::string& id) override {
    auto r = run("DELETE FROM " + table_ + " WHERE id = $1 RETURNING doc", {id});
    if (r->rows() == 0) return std::nullopt;
    return r->document(0);
  }

  Listing list(const Document& filter, const Window& window) override { return select(filter, window); }
  void clear() override { run("DELETE FROM " + table_, {}); }
  std::string backend() const override { return "postgresql"; }

 private:
  void connect() {
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK)
      throw Error(Status::store_error, std::string("cannot reach PostgreSQL: ") + PQerrorMessage(conn_));
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping" and the like
  }

  // Parameters are always bound, never spliced into the SQL.
  std::unique_ptr<Result> run(const std::string& sql, const std::vector<std::string>& params) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        PQreset(conn_);
        if (PQstatus(conn_) != CONNECTION_OK)
          throw Error(Status::store_error, std::string("cannot reach PostgreSQL: ") + PQerrorMessage(conn_));
      }
      std::vector<const char*> values;
      for (const auto& p : params) values.push_back(p.c_str());
      auto r = std::make_unique<Result>(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                     values.data(), nullptr, nullptr, 0));
      auto status = PQresultStatus(r->get());
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
      // A connection that broke mid-call is tried once more (outside a transaction only).
      if (PQstatus(conn_) != CONNECTION_OK && attempt == 0 && sql != "COMMIT" && sql.rfind("INSERT", 0) != 0) continue;
      throw Error(Status::store_error, std::string("PostgreSQL: ") + PQerrorMessage(conn_));
    }
    throw Error(Status::store_error, "PostgreSQL: the connection keeps failing");
  }

  Listing select(const Document& query, const Window& window) {
    WindowFill fill(query, window);
    std::string sql = "SELECT doc FROM " + table_;
    std::vector<std::string> params;
    if (auto it = query.find("id"); it != query.end() && it->value().is_string()) {
      sql += " WHERE id = $1";
      params.push_back(std::string(it->value().get_string()));
    } else if (!query.empty()) {
      // Containment narrows (exact for scalars); every row is checked exactly below.
      sql += " WHERE doc @> $1::jsonb";
      params.push_back(json::serialize(query));
    }
    sql += window.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
    // Without a query every row matches, so the database can stop early; with one, rows are checked below.
    if (query.empty() && fill.rows_needed()) sql += " LIMIT " + std::to_string(fill.rows_needed());
    auto r = run(sql, params);
    for (int i = 0; i < r->rows(); ++i)
      if (!fill.add(r->document(i))) break;
    return fill.take();
  }

  std::string url_;
  std::string table_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_postgres(const StoreConfig& config) { return std::make_unique<PostgresStore>(config); }

}  // namespace exosphere::store
