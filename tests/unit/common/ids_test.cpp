#include <gtest/gtest.h>

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

TEST(Time, Rfc3339WithNanoseconds) {
  std::chrono::system_clock::time_point t{std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(1512756062123456789LL))};
  EXPECT_EQ(rfc3339_nanos(t).substr(0, 20), "2017-12-08T18:01:02.");
  EXPECT_EQ(rfc3339_nanos(t).back(), 'Z');
  EXPECT_EQ(rfc3339_nanos(t).size(), 30u);
}

TEST(Time, HumanDuration) {
  EXPECT_EQ(human_duration(std::chrono::nanoseconds(850)), "850ns");
  EXPECT_EQ(human_duration(std::chrono::microseconds(1234)), "1.23ms");
  EXPECT_EQ(human_duration(std::chrono::milliseconds(2500)), "2.5s");
}
