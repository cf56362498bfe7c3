// The tweets service: the tweets.* vocabulary (list key "entries") over the configured store.
#include <iostream>

#include <exosphere/crud.hpp>

int main() {
  try {
    exosphere::Service service;
    auto store = exosphere::store::open_store(exosphere::store::StoreConfig::from_environment("tweets", "space-tweet-tweets"));
    exosphere::store::register_crud(service, *store, exosphere::store::Vocabulary::tweets());
    std::cout << "keeping its data in " << store->backend() << std::endl;  // which database, at a glance
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << "tweets-service: " << e.what() << std::endl;
    return 1;
  }
}
