#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace exo::runner {

// Recursive inotify watch of service folders. Dot-folders, build folders and each service's
// `restart.ignore` globs are skipped. Feed it when its descriptor is readable.
//
// It also remembers the size and modification time of every file it watches: when the kernel's
// event queue overflows (IN_Q_OVERFLOW, events lost), it rescans and reports what differs, so no
// change goes unnoticed.
class Watcher {
 public:
  using Changed = std::function<void(const std::string& role, const std::filesystem::path& path, const char* what)>;

  Watcher();
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Watches `dir` and everything below it for `role`.
  void add(const std::string& role, const std::filesystem::path& dir, std::vector<std::string> ignore);
  int fd() const { return fd_; }
  // Reads pending events; calls `changed(role, path, what)` for each relevant one ("created",
  // "changed", "deleted").
  void read(const Changed& changed);
  // Whether `rel` (relative to a service folder) is ignored for `role`.
  bool ignored(const std::string& role, const std::filesystem::path& rel) const;
  // How often the event queue overflowed and was made up for by a rescan.
  int overflows() const { return overflows_; }

 private:
  struct Stamp {
    std::filesystem::file_time_type modified;
    std::uintmax_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Root {
    std::filesystem::path dir;
    std::vector<std::string> ignore;
  };
  struct Watch {
    std::string role;
    std::filesystem::path dir;
  };
  // Watches `dir` and the folders below it; records the files' stamps into `stamps`.
  void watch_tree(const std::string& role, const std::filesystem::path& root, const std::filesystem::path& dir,
                  std::map<std::filesystem::path, Stamp>& stamps);
  void note(const std::filesystem::path& path);  // the path's stamp after an event
  void rescan(const Changed& changed);

  int fd_ = -1;
  std::map<std::string, Root> roots_;
  std::map<int, Watch> watches_;
  std::map<std::filesystem::path, Stamp> stamps_;  // every file below a watched folder
  int overflows_ = 0;
};

}  // namespace exo::runner
