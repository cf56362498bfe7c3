#include "exosphere/store.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "common/ids.hpp"
#include "store/backends.hpp"

namespace exosphere::store {

std::string new_id() {
  // Like a MongoDB ObjectId: seconds, then random bytes, then a counter, so ids sort by creation.
  static std::atomic<uint32_t> counter{[] {
    uint32_t start;
    exo::random_bytes(&start, sizeof start);
    return start;
  }()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint8_t bytes[12];
  auto secs = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(secs >> (24 - 8 * i));
  exo::random_bytes(bytes + 4, 5);
  uint32_t c = counter++;
  for (int i = 0; i < 3; ++i) bytes[9 + i] = static_cast<uint8_t>(c >> (16 - 8 * i));
  std::string out(24, '0');
  for (int i = 0; i < 12; ++i) {
    out[static_cast<size_t>(2 * i)] = kHex[bytes[i] >> 4];
    out[static_cast<size_t>(2 * i + 1)] = kHex[bytes[i] & 15];
  }
  return out;
}

bool valid_id(std::string_view id) {
  if (id.size() != 24) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool matches(const Document& doc, const Document& query) {
  for (const auto& [k, v] : query) {
    auto it = doc.find(k);
    if (it == doc.end() || it->value() != v) return false;
  }
  return true;
}

bool WindowFill::add(Document doc) {
  if (!matches(doc, query_)) return true;
  if (skipped_ < window_.skip) {
    ++skipped_;
    return true;
  }
  if (window_.limit && listing_.documents.size() == window_.limit) {
    listing_.more = true;
    return false;
  }
  listing_.documents.push_back(std::move(doc));
  return true;
}

StoreConfig StoreConfig::from_environment(const std::string& collection, const std::string& database) {
  StoreConfig c;
  c.collection = collection;
  c.database = database;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  c.postgres_url = env("POSTGRES_URL");
  c.mongodb_url = env("MONGODB_URL");
  if (c.mongodb_url.empty() && !env("MONGO").empty()) c.mongodb_url = "mongodb://" + env("MONGO") + ":27017";
  std::string dir = env("EXOSPHERE_DATA_DIR");
  c.sqlite_path = (dir.empty() ? std::string(".") : dir) + "/" + database + ".sqlite";
  return c;
}

std::unique_ptr<Store> open_store(const StoreConfig& config) {
  if (config.collection.empty()) throw Error(Status::invalid_argument, "a store needs a collection name");
  for (char c : config.collection)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      throw Error(Status::invalid_argument, "collection names use letters, digits and '_', not '" + config.collection + "'");
  if (!config.postgres_url.empty()) return open_postgres(config);
  if (!config.mongodb_url.empty()) return open_mongo(config);
  return open_sqlite(config);
}

}  // namespace exosphere::store
