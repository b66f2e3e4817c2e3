#include "tools/bench/stats.h"

#include <string>

#include "gtest/gtest.h"

namespace sluice::bench {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.5), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 50; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 25);
  EXPECT_EQ(h.Percentile(1.0), 50);
  EXPECT_EQ(h.max_ns(), 50);
}

TEST(LatencyHistogramTest, PercentilesWithinRelativeError) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100'000; ++v) h.Record(v * 1000);  // 1us .. 100ms uniform
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100'000 * 1000;
    EXPECT_NEAR(static_cast<double>(h.Percentile(q)), exact, exact * 0.02) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), 100'000'000);
  EXPECT_NEAR(h.mean_ns(), 50'000'500.0, 1.0);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  for (int i = 0; i < 99; ++i) a.Record(1000);
  b.Record(5'000'000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_LE(a.Percentile(0.5), 1016);
  EXPECT_EQ(a.Percentile(1.0), 5'000'000);
}

TEST(SequenceTrackerTest, CountsLossDuplicatesAndReordering) {
  SequenceTracker t;
  for (uint32_t s : {0u, 1u, 2u, 4u, 3u, 3u, 7u, 200u}) t.Observe(s);
  EXPECT_EQ(t.unique(), 7u);       // 0 1 2 3 4 7 200
  EXPECT_EQ(t.duplicates(), 1u);   // the second 3
  EXPECT_EQ(t.out_of_order(), 1u); // 3 after 4
  EXPECT_EQ(t.Lost(201), 201u - 7u);
  EXPECT_EQ(t.Lost(5), 0u);
}

TEST(ProbeTest, RoundTrips) {
  std::string payload(16, 'x');
  Probe in{7, 0xdeadbeef, 0x0123456789abcdefLL};
  WriteProbe(in, payload.data());
  Probe out;
  ASSERT_TRUE(ReadProbe(payload, &out));
  EXPECT_EQ(out.publisher, 7u);
  EXPECT_EQ(out.seq, 0xdeadbeefu);
  EXPECT_EQ(out.sent_ns, 0x0123456789abcdefLL);
  EXPECT_FALSE(ReadProbe("short", &out));
}

TEST(FormatNsTest, PicksUnit) {
  EXPECT_EQ(FormatNs(999), "999ns");
  EXPECT_EQ(FormatNs(12'345), "12.3us");
  EXPECT_EQ(FormatNs(12'345'678), "12.3ms");
}

}  // namespace
}  // namespace sluice::bench
