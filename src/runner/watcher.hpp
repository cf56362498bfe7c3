#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace exo::runner {

// Recursive inotify watch of service folders. Dot-folders, build folders and each service's
// `restart.ignore` globs are skipped. Feed it when its descriptor is readable.
class Watcher {
 public:
  Watcher();
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Watches `dir` and everything below it for `role`.
  void add(const std::string& role, const std::filesystem::path& dir, std::vector<std::string> ignore);
  int fd() const { return fd_; }
  // Reads pending events; calls `changed(role, path, what)` for each relevant one ("created",
  // "changed", "deleted").
  void read(const std::function<void(const std::string&, const std::filesystem::path&, const char*)>& changed);
  // Whether `rel` (relative to a service folder) is ignored for `role`.
  bool ignored(const std::string& role, const std::filesystem::path& rel) const;

 private:
  void watch_tree(const std::string& role, const std::filesystem::path& root, const std::filesystem::path& dir);
  struct Root {
    std::filesystem::path dir;
    std::vector<std::string> ignore;
  };
  struct Watch {
    std::string role;
    std::filesystem::path dir;
  };
  int fd_ = -1;
  std::map<std::string, Root> roots_;
  std::map<int, Watch> watches_;
};

}  // namespace exo::runner
