#include "cluster/raft/progress.h"

#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

LogIndex I(uint64_t i) { return LogIndex(i); }

TEST(Inflights, BoundedByCountAndBytes) {
  Inflights in(3, 100);
  in.Add(I(1), 10);
  in.Add(I(2), 10);
  EXPECT_FALSE(in.Full());
  in.Add(I(3), 10);
  EXPECT_TRUE(in.Full());  // count
  in.FreeLE(I(2));
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_FALSE(in.Full());
  in.Add(I(4), 95);
  EXPECT_TRUE(in.Full());  // bytes
  in.FreeFirstOne();
  EXPECT_EQ(in.bytes(), 95u);
  EXPECT_FALSE(in.Full());
  in.Add(I(5), 10);
  EXPECT_DEATH({ in.Add(I(6), 10); }, "full");
}

TEST(Progress, ProbePausesAfterOneProbe) {
  Progress pr(I(5), 10, 0, false);
  EXPECT_FALSE(pr.IsPaused());
  pr.UpdateOnEntriesSend(2, 20, I(5));
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.next, I(5));  // probes do not advance next
  EXPECT_TRUE(pr.MaybeUpdate(I(6)));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, I(7));
}

TEST(Progress, ReplicatePipelinesUntilWindowFull) {
  Progress pr(I(1), 2, 0, false);
  pr.BecomeReplicate();
  pr.UpdateOnEntriesSend(3, 30, pr.next);
  EXPECT_EQ(pr.next, I(4));
  pr.UpdateOnEntriesSend(1, 10, pr.next);
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(I(3));
  pr.inflights.FreeLE(I(3));
  EXPECT_FALSE(pr.IsPaused());
}

TEST(Progress, MaybeDecrTo) {
  Progress pr(I(10), 10, 0, false);
  // Stale rejection (not for next-1) ignored in probe.
  EXPECT_FALSE(pr.MaybeDecrTo(I(5), I(5)));
  // Hint says the follower's log ends at 3.
  EXPECT_TRUE(pr.MaybeDecrTo(I(9), I(3)));
  EXPECT_EQ(pr.next, I(4));
  // Replicate: rejection at or below match is stale; above it resets next to match+1.
  pr.match = I(6);
  pr.BecomeReplicate();
  EXPECT_FALSE(pr.MaybeDecrTo(I(6), I(0)));
  pr.next = I(12);
  EXPECT_TRUE(pr.MaybeDecrTo(I(10), I(0)));
  EXPECT_EQ(pr.next, I(7));
}

TEST(Progress, SnapshotThenProbe) {
  Progress pr(I(3), 10, 0, false);
  pr.match = I(2);
  pr.BecomeSnapshot(I(20));
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, I(21));
}

}  // namespace
}  // namespace sluice::raft
