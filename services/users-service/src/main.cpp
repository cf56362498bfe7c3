// The users service: user accounts with hashed passwords and user.authenticate.
#include <iostream>

#include <exosphere/crud.hpp>

int main() {
  try {
    exosphere::Service service;
    auto store = exosphere::store::open_store(exosphere::store::StoreConfig::from_environment("users", "space-tweet-users"));
    exosphere::store::register_users(service, *store);
    std::cout << "keeping its data in " << store->backend() << std::endl;  // which database, at a glance
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << "users-service: " << e.what() << std::endl;
    return 1;
  }
}
