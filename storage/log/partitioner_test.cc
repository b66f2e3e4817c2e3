#include "storage/log/partitioner.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace sluice::storage {
namespace {

TEST(PartitionerTest, StableAcrossProcessesAndBuilds) {
  // FNV-1a 64 reference values: a changed hash would silently remap stored topics.
  EXPECT_EQ(Fnv1a64(""), 14695981039346656037ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  const Partitioner p(16, 0);
  EXPECT_EQ(p.For("sensors/a/temp"), PartitionId(Fnv1a64("sensors/a/temp") % 16));
}

TEST(PartitionerTest, KeyLevels) {
  const Partitioner two(8, 2);
  EXPECT_EQ(two.Key("a/b/c/d"), "a/b");
  EXPECT_EQ(two.Key("a/b"), "a/b");
  EXPECT_EQ(two.Key("a"), "a");
  EXPECT_EQ(two.Key("/x/y"), "/x");
  EXPECT_EQ(two.For("a/b/c"), two.For("a/b/zzz"));
  const Partitioner one(8, 1);
  EXPECT_EQ(one.Key("a/b/c"), "a");
  EXPECT_EQ(Partitioner(8, 0).Key("a/b/c"), "a/b/c");
}

TEST(PartitionerTest, SpreadsTopics) {
  const Partitioner p(8, 0);
  std::set<uint32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(p.For("dev/" + std::to_string(i)).value());
  EXPECT_EQ(seen.size(), 8u);
}

}  // namespace
}  // namespace sluice::storage
