// Snapshots: InstallSnapshot to a lagging follower, and the follower's restore rules.
#include "base/check.h"
#include "cluster/raft/testing/network.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

using testing::N;
using testing::Network;

// Leader 1 commits entries while 3 is away, then snapshots and compacts everything.
void LagAndCompact(Network& net) {
  net.Campaign(N(1));
  net.Isolate(N(3));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.Propose(N(1), "e").ok());
  net.PersistAll();
  net.ApplyAll();
  const LogIndex applied = net.peer(N(1)).log().applied();
  ASSERT_EQ(applied, LogIndex(6));
  ASSERT_TRUE(net.storage(N(1))
                  .CreateSnapshot(applied, net.peer(N(1)).tracker().GetConfState(), "image")
                  .ok());
  ASSERT_TRUE(net.storage(N(1)).Compact(applied).ok());
  net.Recover();
}

TEST(Snapshot, LaggingFollowerGetsSnapshotThenEntries) {
  Network net(3);
  LagAndCompact(net);
  net.ClearDelivered();
  net.Tick(N(1), 1);
  bool sent = false;
  for (const Message& m : net.delivered()) sent |= m.type == MessageType::kSnap && m.to == N(3);
  ASSERT_TRUE(sent);
  EXPECT_EQ(net.peer(N(3)).log().committed(), LogIndex(6));
  ASSERT_TRUE(net.peer(N(3)).log().HasPendingSnapshot());
  EXPECT_FALSE(net.peer(N(3)).Promotable());  // not until the snapshot is installed
  EXPECT_EQ(net.peer(N(1)).tracker().Find(N(3))->state, ProgressState::kReplicate);
  net.Persist(N(3));
  EXPECT_EQ(net.storage(N(3)).GetSnapshot()->data, "image");
  ASSERT_TRUE(net.Propose(N(1), "after").ok());
  EXPECT_EQ(net.peer(N(3)).log().committed(), LogIndex(7));
  EXPECT_EQ(net.peer(N(3)).log().LastIndex(), LogIndex(7));
}

TEST(Snapshot, FailedSnapshotReportReturnsToProbe) {
  Network net(3);
  LagAndCompact(net);
  net.Ignore(MessageType::kSnap);
  net.Tick(N(1), 1);
  ASSERT_EQ(net.peer(N(1)).tracker().Find(N(3))->state, ProgressState::kSnapshot);
  Message st;
  st.type = MessageType::kSnapStatus;
  st.from = N(3);
  st.reject = true;
  ASSERT_TRUE(net.peer(N(1)).Step(st).ok());
  EXPECT_EQ(net.peer(N(1)).tracker().Find(N(3))->state, ProgressState::kProbe);
  net.Recover();
  net.Tick(N(1), 1);
  EXPECT_EQ(net.peer(N(3)).log().committed(), LogIndex(6));
}

Message SnapMsg(uint64_t index, uint64_t term, ConfState cs) {
  Message m;
  m.type = MessageType::kSnap;
  m.from = N(1);
  m.to = N(2);
  m.term = Term(1);
  Snapshot s;
  s.metadata.index = LogIndex(index);
  s.metadata.term = Term(term);
  s.metadata.conf_state = std::move(cs);
  m.snapshot = s;
  return m;
}

TEST(Snapshot, StaleOrForeignSnapshotsIgnored) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  Raft& f = net.peer(N(2));
  // At or below commit: ignored.
  ASSERT_TRUE(f.Step(SnapMsg(2, 1, {{N(1), N(2), N(3)}, {}})).ok());
  EXPECT_FALSE(f.log().HasPendingSnapshot());
  // Not containing us: ignored.
  ASSERT_TRUE(f.Step(SnapMsg(10, 1, {{N(1), N(3)}, {}})).ok());
  EXPECT_FALSE(f.log().HasPendingSnapshot());
  // Valid.
  ASSERT_TRUE(f.Step(SnapMsg(10, 1, {{N(1), N(2), N(3)}, {}})).ok());
  EXPECT_TRUE(f.log().HasPendingSnapshot());
  EXPECT_EQ(f.log().committed(), LogIndex(10));
}

TEST(Snapshot, MatchingSnapshotOnlyFastForwardsCommit) {
  Network net(3);
  net.Campaign(N(1));
  net.Ignore(MessageType::kHeartbeat);
  net.Drop(N(2), N(1), 100);  // 2 gets the entry but the leader never hears back
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  Raft& f = net.peer(N(2));
  ASSERT_EQ(f.log().LastIndex(), LogIndex(2));
  ASSERT_TRUE(f.Step(SnapMsg(2, 1, {{N(1), N(2), N(3)}, {}})).ok());
  EXPECT_FALSE(f.log().HasPendingSnapshot());
  EXPECT_EQ(f.log().committed(), LogIndex(2));
}

}  // namespace
}  // namespace sluice::raft
