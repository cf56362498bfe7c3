#include "runner/watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/text.hpp"

namespace exo::runner {

namespace fs = std::filesystem;

namespace {
// Folders that builds and package managers write to: changes there are never the user's edits.
bool build_folder(const std::string& name) {
  return name == "build" || name == "node_modules" || name == "target" || name == "dist" || name == "tmp" ||
         name.rfind("cmake-build", 0) == 0;
}
constexpr uint32_t kMask = IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE;

bool within(const fs::path& path, const fs::path& root) {
  auto rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}
}  // namespace

Watcher::Watcher() {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) throw UserError(std::string("cannot watch files (inotify): ") + std::strerror(errno));
}

Watcher::~Watcher() {
  if (fd_ >= 0) ::close(fd_);
}

void Watcher::add(const std::string& role, const fs::path& dir, std::vector<std::string> ignore) {
  roots_[role] = {dir, std::move(ignore)};
  watch_tree(role, dir, dir, stamps_);
}

bool Watcher::ignored(const std::string& role, const fs::path& rel) const {
  for (const auto& part : rel) {
    std::string name = part.string();
    if (!name.empty() && name[0] == '.') return true;
    if (build_folder(name)) return true;
  }
  auto it = roots_.find(role);
  if (it == roots_.end()) return false;
  std::string path = rel.generic_string();
  for (const auto& glob : it->second.ignore)
    if (glob_match(glob, path)) return true;
  return false;
}

void Watcher::watch_tree(const std::string& role, const fs::path& root, const fs::path& dir,
                         std::map<fs::path, Stamp>& stamps) {
  if (dir != root && ignored(role, dir.lexically_relative(root))) return;
  // Adding a watch twice returns the same descriptor; the map keeps one entry.
  int wd = inotify_add_watch(fd_, dir.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOSPC)
      throw UserError("too many folders to watch; raise fs.inotify.max_user_watches or add restart.ignore globs");
    return;  // vanished meanwhile
  }
  watches_[wd] = {role, dir};
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code sec;
    if (it->is_symlink(sec)) continue;
    if (it->is_directory(sec)) {
      watch_tree(role, root, it->path(), stamps);
    } else if (!ignored(role, it->path().lexically_relative(root))) {
      Stamp s{it->last_write_time(sec), it->file_size(sec)};
      if (!sec) stamps[it->path()] = s;
    }
  }
}

void Watcher::note(const fs::path& path) {
  std::error_code ec;
  auto status = fs::symlink_status(path, ec);
  if (ec || !fs::is_regular_file(status)) {
    stamps_.erase(path);
    return;
  }
  Stamp s{fs::last_write_time(path, ec), fs::file_size(path, ec)};
  if (ec) stamps_.erase(path);
  else stamps_[path] = s;
}

void Watcher::rescan(const Changed& changed) {
  ++overflows_;
  for (const auto& [role, root] : roots_) {
    std::map<fs::path, Stamp> now;
    watch_tree(role, root.dir, root.dir, now);
    for (const auto& [path, stamp] : now) {
      auto old = stamps_.find(path);
      if (old == stamps_.end()) changed(role, path, "created");
      else if (!(old->second == stamp)) changed(role, path, "changed");
    }
    for (auto it = stamps_.begin(); it != stamps_.end();) {
      if (within(it->first, root.dir) && !now.count(it->first)) {
        changed(role, it->first, "deleted");
        it = stamps_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [path, stamp] : now) stamps_[path] = stamp;
  }
}

void Watcher::read(const Changed& changed) {
  alignas(inotify_event) char buf[16384];
  while (true) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return;
    bool overflowed = false;
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      if (e->mask & IN_Q_OVERFLOW) {
        overflowed = true;  // after the events still queued, so the rescan sees the latest state
        continue;
      }
      auto w = watches_.find(e->wd);
      if (w == watches_.end()) continue;
      if (e->mask & IN_IGNORED) {
        watches_.erase(w);
        continue;
      }
      if (e->len == 0) continue;
      fs::path path = w->second.dir / e->name;
      const std::string role = w->second.role;
      const fs::path root = roots_[role].dir;
      if (ignored(role, path.lexically_relative(root))) continue;
      if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
        std::map<fs::path, Stamp> found;
        watch_tree(role, root, path, found);
        // Files made in the new folder before its watch existed would go unseen: report them now.
        for (auto& [file, stamp] : found) {
          stamps_[file] = stamp;
          changed(role, file, "created");
        }
      }
      if (!(e->mask & IN_ISDIR)) note(path);
      // Editors save by writing a temporary file and renaming it over the old one: a rename into
      // place is a change.
      const char* what = (e->mask & IN_CREATE) ? "created" : (e->mask & (IN_DELETE | IN_MOVED_FROM)) ? "deleted" : "changed";
      changed(role, path, what);
    }
    if (overflowed) rescan(changed);
  }
}

}  // namespace exo::runner
