#pragma once

#include <memory>

#include "exosphere/store.hpp"

namespace exosphere::store {

std::unique_ptr<Store> open_sqlite(const StoreConfig& config);
std::unique_ptr<Store> open_postgres(const StoreConfig& config);
std::unique_ptr<Store> open_mongo(const StoreConfig& config);

// Fills a window from documents read in its order, checking each against the query exactly.
class WindowFill {
 public:
  WindowFill(const Document& query, const Window& window) : query_(query), window_(window) {}
  // False once the window is full and one more match has shown that more follow: stop reading.
  bool add(Document doc);
  Listing take() { return std::move(listing_); }
  // Rows a database needs to return when its own filter is exact (0: all).
  size_t rows_needed() const { return window_.limit ? window_.skip + window_.limit + 1 : 0; }

 private:
  const Document& query_;
  Window window_;
  size_t skipped_ = 0;
  Listing listing_;
};

// Keys that can go into a database query as a field name without any quoting question.
bool plain_key(std::string_view key);

}  // namespace exosphere::store
