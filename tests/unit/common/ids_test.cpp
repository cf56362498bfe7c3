#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>

#include "common/ids.hpp"
#include "common/time.hpp"

using namespace exo;

TEST(Ids, UuidsAreVersion4AndUnique) {
  std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_uuid();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
    ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(Ids, RandomHexHasTheAskedLength) {
  EXPECT_EQ(random_hex(12).size(), 24u);
  EXPECT_NE(random_hex(12), random_hex(12));
}

// The ids of a forked child (a service's worker, a test's helper process) must not repeat its
// parent's: a generator whose state is copied by fork() would hand both the same "random" ids.
TEST(Ids, AForkedChildDrawsDifferentIdsFromItsParent) {
  (void)new_uuid();  // whatever the parent keeps between ids is now in use
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string id = new_uuid() + random_hex(8);
    (void)!write(fds[1], id.data(), id.size());
    _exit(0);
  }
  close(fds[1]);
  std::string mine = new_uuid() + random_hex(8);
  char buf[64] = {};
  ASSERT_EQ(read(fds[0], buf, sizeof buf), static_cast<ssize_t>(mine.size()));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  std::string child(buf, mine.size());
  EXPECT_NE(child.substr(0, 36), mine.substr(0, 36));
  EXPECT_NE(child.substr(36), mine.substr(36));
}

TEST(Ids, RandomBytesFillEveryLength) {
  // Lengths around the internal buffer's size: no byte may be left at its initial value by design.
  for (size_t n : {1u, 31u, 32u, 33u, 127u, 128u, 129u, 255u, 256u, 257u, 4096u}) {
    std::string a(n, '\0'), b(n, '\0');
    random_bytes(a.data(), n);
    random_bytes(b.data(), n);
    EXPECT_NE(a, b) << n;
  }
}

TEST(Time, Rfc3339WithNanoseconds) {
  std::chrono::system_clock::time_point t{std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(1512756062123456789LL))};
  EXPECT_EQ(rfc3339_nanos(t), "2017-12-08T18:01:02.123456789Z");
  // Leading zeros of the fraction are kept: 5 ms is .005000000, not .5.
  std::chrono::system_clock::time_point early{std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(1512756062005000000LL))};
  EXPECT_EQ(rfc3339_nanos(early), "2017-12-08T18:01:02.005000000Z");
}

TEST(Time, HumanDuration) {
  EXPECT_EQ(human_duration(std::chrono::nanoseconds(850)), "850ns");
  EXPECT_EQ(human_duration(std::chrono::microseconds(1234)), "1.23ms");
  EXPECT_EQ(human_duration(std::chrono::milliseconds(2500)), "2.5s");
}

TEST(Ids, SameSecretOnlyForTheWholeToken) {
  EXPECT_TRUE(same_secret("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcdee", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcde", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("", "")) << "an empty secret matches nothing";
}
