#include "storage/log/retention.h"

#include "gtest/gtest.h"

namespace sluice::storage {
namespace {

// Blocks of 10 records of 100 bytes, one block per second of log time starting at t=1000.
struct Fixture {
  std::deque<IndexEntry> index;
  RetentionInput in;
  Fixture(uint64_t start_block, uint64_t blocks) {
    for (uint64_t b = start_block; b < blocks; ++b) {
      index.push_back(IndexEntry{Offset(b * 10), static_cast<int64_t>(1000 + b * 1000), b * 1000});
    }
    in.start = Offset(start_block * 10);
    in.next = Offset(blocks * 10);
    in.bytes_appended = blocks * 1000;
    in.max_log_time_ms = 1000 + (blocks - 1) * 1000 + 900;
    in.index = &index;
  }
};

TEST(RetentionTest, NothingWithoutLimits) {
  Fixture f(0, 10);
  f.in.now_ms = 1'000'000;
  EXPECT_EQ(DecideRetention(f.in, {}).new_start, Offset(0));
}

TEST(RetentionTest, ByTimeWholeBlocksOnly) {
  Fixture f(0, 10);
  RetentionLimits l;
  l.retention_ms = 5000;
  f.in.now_ms = 9500;  // cutoff 4500: blocks starting at 1000..4000 are older
  // Block 3 starts at 4000 < 4500 and may still hold younger records: keep it.
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(30));
  f.in.now_ms = 100'000;  // everything expired
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(100));
  f.in.now_ms = 5000;  // cutoff 0
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(0));
}

TEST(RetentionTest, BySizeKeepsNewestBlock) {
  Fixture f(2, 10);  // 8 blocks, 8000 bytes
  RetentionLimits l;
  l.retention_bytes = 3500;
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(70));  // 3 blocks = 3000 bytes stay
  l.retention_bytes = 10;
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(90));  // newest block always stays
  l.retention_bytes = 100'000;
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(20));
}

TEST(RetentionTest, CursorHoldsBackSoftLimits) {
  Fixture f(0, 10);
  RetentionLimits l;
  l.retention_bytes = 2000;
  f.in.min_live_cursor = Offset(35);  // rounded down to its block
  RetentionDecision d = DecideRetention(f.in, l);
  EXPECT_EQ(d.new_start, Offset(30));
  EXPECT_EQ(d.records_past_cursor, 0u);
  f.in.min_live_cursor = Offset(100);  // read everything
  EXPECT_EQ(DecideRetention(f.in, l).new_start, Offset(80));
}

TEST(RetentionTest, HardLimitOverridesCursorAndCounts) {
  Fixture f(0, 10);
  RetentionLimits l;
  l.retention_bytes = 2000;
  l.hard_retention_bytes = 5000;
  f.in.min_live_cursor = Offset(12);
  RetentionDecision d = DecideRetention(f.in, l);
  EXPECT_EQ(d.new_start, Offset(50));
  EXPECT_EQ(d.records_past_cursor, 38u);
  l.hard_retention_bytes = 0;
  l.hard_retention_ms = 3000;
  f.in.now_ms = 8500;  // hard cutoff 5500: blocks starting before 5500 -> start at 40
  d = DecideRetention(f.in, l);
  EXPECT_EQ(d.new_start, Offset(40));
  EXPECT_EQ(d.records_past_cursor, 28u);
}

TEST(RetentionTest, FloorToIndex) {
  Fixture f(1, 4);
  EXPECT_EQ(FloorToIndex(f.index, Offset(10), Offset(10)), Offset(10));
  EXPECT_EQ(FloorToIndex(f.index, Offset(10), Offset(29)), Offset(20));
  EXPECT_EQ(FloorToIndex(f.index, Offset(10), Offset(5)), Offset(10));
  EXPECT_EQ(FloorToIndex(f.index, Offset(10), Offset(99)), Offset(30));
}

}  // namespace
}  // namespace sluice::storage
