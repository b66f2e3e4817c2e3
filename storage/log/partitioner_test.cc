#include "storage/log/partitioner.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mqtt/topic/topic.h"

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

// A reader may skip a partition for a filter only if no topic the filter matches is in it.
TEST(PartitionerTest, MayHoldIsNeverWrongAboutAMatchingTopic) {
  const std::vector<std::string> topics = {"a", "a/b", "a/b/c", "a/x/c", "b/b/c", "/a", "a/b/c/d"};
  const std::vector<std::string> filters = {"a", "a/b", "a/b/#", "a/+/c", "+/b/c", "#",
                                            "a/#", "/+", "a/b/c", "a/b/+"};
  for (uint32_t levels : {0u, 1u, 2u}) {
    const Partitioner p(7, levels);
    for (const std::string& f : filters) {
      for (const std::string& t : topics) {
        if (!topic::Matches(f, t)) continue;
        EXPECT_TRUE(p.MayHold(p.For(t), f)) << f << " matches " << t << ", levels " << levels;
      }
    }
  }
  const Partitioner whole(16, 0);
  int held = 0;
  for (uint32_t i = 0; i < 16; ++i) held += whole.MayHold(PartitionId(i), "offline/7") ? 1 : 0;
  EXPECT_EQ(held, 1) << "a filter without wildcards is in one partition";
  EXPECT_TRUE(whole.MayHold(PartitionId(3), "offline/+"));
  const Partitioner one(16, 1);
  held = 0;
  for (uint32_t i = 0; i < 16; ++i) held += one.MayHold(PartitionId(i), "site/+/temp") ? 1 : 0;
  EXPECT_EQ(held, 1) << "the wildcard is past the hashed level";
}

TEST(PartitionerTest, SpreadsTopics) {
  const Partitioner p(8, 0);
  std::set<uint32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(p.For("dev/" + std::to_string(i)).value());
  EXPECT_EQ(seen.size(), 8u);
}

}  // namespace
}  // namespace sluice::storage
