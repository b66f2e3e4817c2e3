#include "tools/bench/pacing.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::bench {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

// Walks the pacer in 1 ms ticks like the scenario does; returns the send time of every slot.
std::vector<std::vector<int64_t>> SendTimesPerClient(uint32_t clients, double rate,
                                                     int64_t until_ns) {
  SpreadPacer pacer(clients, rate, 100 * kMs);
  std::vector<std::vector<int64_t>> times(clients);
  for (int64_t t = 0; t <= until_ns; t += kMs) {
    SpreadPacer::Batch b = pacer.Due(t);
    EXPECT_EQ(b.skipped, 0u);
    for (uint64_t s = b.first_slot; s < b.end_slot; ++s) times[pacer.ClientOf(s)].push_back(t);
  }
  return times;
}

TEST(SpreadPacerTest, EveryClientSendsAtItsOwnRate) {
  // 10,000 devices at 1 msg/s for just under 3 s: 29,991 sends (client i's k-th at
  // k + i/10,000 s), each client's one second apart (to the 1 ms tick).
  auto times = SendTimesPerClient(10'000, 1.0, 3 * kS - kMs);
  size_t total = 0;
  for (uint32_t i = 0; i < times.size(); ++i) {
    ASSERT_EQ(times[i].size(), i < 9'991 ? 3u : 2u) << i;
    total += times[i].size();
    for (size_t k = 1; k < times[i].size(); ++k)
      EXPECT_NEAR(times[i][k] - times[i][k - 1], kS, kMs) << i;
  }
  EXPECT_EQ(total, 29'991u);
}

TEST(SpreadPacerTest, ClientsAreSpreadEvenlyOverThePeriod) {
  // 10,000 clients at 1/s: 10 sends per millisecond, never a burst of all clients at once.
  SpreadPacer pacer(10'000, 1.0, 100 * kMs);
  uint64_t most = 0;
  for (int64_t t = 0; t < kS; t += kMs) {
    SpreadPacer::Batch b = pacer.Due(t);
    most = std::max<uint64_t>(most, b.end_slot - b.first_slot);
  }
  EXPECT_LE(most, 11u);
  // Client i's first send is i/10 ms after the start.
  EXPECT_EQ(pacer.DueNs(0), 0);
  EXPECT_NEAR(pacer.DueNs(5'000), 500 * kMs, 1);
  EXPECT_NEAR(pacer.DueNs(9'999), 999'900'000, 1);
  EXPECT_EQ(pacer.ClientOf(10'003), 3u);
}

TEST(SpreadPacerTest, FractionalRates) {
  // 4 clients at 0.5 msg/s: one send every 500 ms overall, each client every 2 s.
  auto times = SendTimesPerClient(4, 0.5, 4 * kS - kMs);
  for (const auto& t : times) {
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1] - t[0], 2 * kS);
  }
  EXPECT_EQ(times[1][0], 500 * kMs);
}

TEST(SpreadPacerTest, LateSlotsAreSkippedNotBurst) {
  SpreadPacer pacer(100, 10.0, 100 * kMs);  // 1000 slots/s
  SpreadPacer::Batch b = pacer.Due(0);
  EXPECT_EQ(b.end_slot - b.first_slot, 1u);
  // The caller stalls for 1 s: only the last 100 ms worth is sent, the rest skipped.
  b = pacer.Due(kS);
  EXPECT_EQ(b.skipped, 899u);
  EXPECT_EQ(b.end_slot - b.first_slot, 101u);
  EXPECT_EQ(b.end_slot, 1001u);
  // Nothing is handed out twice.
  b = pacer.Due(kS);
  EXPECT_EQ(b.end_slot - b.first_slot, 0u);
  EXPECT_EQ(b.skipped, 0u);
}

TEST(SpreadPacerTest, ZeroRateNeverDue) {
  SpreadPacer pacer(10, 0.0, kMs);
  SpreadPacer::Batch b = pacer.Due(10 * kS);
  EXPECT_EQ(b.end_slot, b.first_slot);
}

TEST(TokenBucketTest, LimitsToRateAfterBurst) {
  TokenBucket bucket(1000, 100, 0);  // 1000 B/s, 100 B burst
  EXPECT_EQ(bucket.Available(0), 100);
  bucket.Take(100);
  EXPECT_EQ(bucket.Available(0), 0);
  EXPECT_EQ(bucket.Available(50 * kMs), 50);
  EXPECT_EQ(bucket.NsUntil(100, 50 * kMs), 50 * kMs);
  EXPECT_EQ(bucket.Available(10 * kS), 100);  // capped at the burst
}

TEST(TokenBucketTest, DebtIsRepaidBeforeMoreIsAvailable) {
  TokenBucket bucket(1000, 100, 0);
  bucket.Take(300);  // a read larger than the tokens (whole frames)
  EXPECT_EQ(bucket.Available(100 * kMs), 0);
  EXPECT_EQ(bucket.Available(300 * kMs), 100);
}

TEST(TokenBucketTest, UnlimitedWhenRateIsZero) {
  TokenBucket bucket(0, 4096, 0);
  EXPECT_FALSE(bucket.limited());
  bucket.Take(1 << 20);
  EXPECT_EQ(bucket.Available(0), 4096);
  EXPECT_EQ(bucket.NsUntil(4096, 0), 0);
}

}  // namespace
}  // namespace sluice::bench
