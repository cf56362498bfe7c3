// The file watcher behind restart-on-change, against the real kernel (inotify).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "runner/watcher.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;
using exo::runner::Watcher;

namespace {

struct Seen {
  std::set<std::pair<std::string, std::string>> events;  // (file name, what)
  Watcher::Changed recorder() {
    return [this](const std::string&, const fs::path& path, const char* what) { events.emplace(path.filename().string(), what); };
  }
  bool has(const std::string& file, const std::string& what) const { return events.count({file, what}) > 0; }
};

size_t max_queued_events() {
  std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
  size_t n = 16384;
  in >> n;
  return n;
}

}  // namespace

TEST(Watcher, ReportsEditsCreationsAndDeletions) {
  Sandbox box;
  box.write("src/main.cpp", "int main() {}\n");
  box.write("obsolete.txt", "x\n");
  Watcher w;
  w.add("svc", box.path(), {});
  box.write("src/main.cpp", "int main() { return 1; }\n");
  box.write("src/new.cpp", "\n");
  fs::remove(box / "obsolete.txt");
  Seen seen;
  w.read(seen.recorder());
  EXPECT_TRUE(seen.has("main.cpp", "changed"));
  EXPECT_TRUE(seen.has("new.cpp", "changed"));  // written aside, then renamed into place
  EXPECT_TRUE(seen.has("obsolete.txt", "deleted"));
  EXPECT_EQ(w.overflows(), 0);
}

TEST(Watcher, SkipsBuildFoldersDotFoldersAndIgnoredGlobs) {
  Sandbox box;
  box.write("build/out.o", "");
  box.write(".git/HEAD", "");
  box.write("notes/todo.md", "");
  box.write("main.cpp", "");
  Watcher w;
  w.add("svc", box.path(), {"notes/**"});
  box.write("build/out.o", "changed");
  box.write(".git/HEAD", "changed");
  box.write("notes/todo.md", "changed");
  box.write("main.cpp", "changed");
  Seen seen;
  w.read(seen.recorder());
  EXPECT_TRUE(seen.has("main.cpp", "changed"));
  EXPECT_FALSE(seen.has("out.o", "changed"));
  EXPECT_FALSE(seen.has("HEAD", "changed"));
  EXPECT_FALSE(seen.has("todo.md", "changed"));
}

// More events than the kernel queues (a checkout, a code generator): the queue overflows and the
// events after it are lost. The watcher rescans and still reports the edit that came last.
TEST(Watcher, ChangesLostInAQueueOverflowAreFoundByARescan) {
  Sandbox box;
  box.write("main.cpp", "int main() {}\n");
  box.write("gone.cpp", "\n");
  box.write("a.log", "");
  box.write("b.log", "");
  Watcher w;
  w.add("svc", box.path(), {});
  // Writes to two files in turn: the kernel merges only identical consecutive events, so each
  // write is one queued event.
  int a = ::open((box / "a.log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  int b = ::open((box / "b.log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (size_t i = 0; i < max_queued_events() + 100; ++i) ASSERT_EQ(::write(i % 2 ? a : b, "x", 1), 1);
  ::close(a);
  ::close(b);
  box.write("main.cpp", "int main() { return 42; }\n");
  fs::remove(box / "gone.cpp");
  Seen seen;
  w.read(seen.recorder());
  EXPECT_EQ(w.overflows(), 1);
  EXPECT_TRUE(seen.has("main.cpp", "changed"));
  EXPECT_TRUE(seen.has("gone.cpp", "deleted"));
  // Made up for once: the next read reports nothing old again.
  seen.events.clear();
  box.write("main.cpp", "int main() { return 7; }\n");
  w.read(seen.recorder());
  EXPECT_TRUE(seen.has("main.cpp", "changed"));
  EXPECT_FALSE(seen.has("gone.cpp", "deleted"));
}
