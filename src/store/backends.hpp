#pragma once

#include <memory>

#include "exosphere/store.hpp"

namespace exosphere::store {

std::unique_ptr<Store> open_sqlite(const StoreConfig& config);
std::unique_ptr<Store> open_postgres(const StoreConfig& config);
std::unique_ptr<Store> open_mongo(const StoreConfig& config);

// Keys that can go into a database query as a field name without any quoting question.
bool plain_key(std::string_view key);

}  // namespace exosphere::store
