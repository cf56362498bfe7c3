// {{serviceType}}: {{description}}
#include <iostream>

#include <exosphere/crud.hpp>

int main() {
  try {
    exosphere::Service service;
    auto config = exosphere::store::StoreConfig::from_environment("{{modelName}}s", "{{appName}}-{{serviceRole}}");
    auto store = exosphere::store::open_store(config);
    exosphere::store::register_crud(service, *store, exosphere::store::Vocabulary::model("{{modelName}}"));
    return service.run();
  } catch (const exosphere::Error& e) {
    std::cerr << "{{serviceType}}: " << e.what() << std::endl;
    return 1;
  }
}
