#include "broker/cluster/cluster_view.h"

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

multiraft::GroupStatus Led(uint64_t leader, uint64_t commit, uint64_t applied) {
  multiraft::GroupStatus g;
  g.leader = NodeId(leader);
  g.commit = LogIndex(commit);
  g.applied = LogIndex(applied);
  g.last_index = LogIndex(commit);
  return g;
}

PeerLinkStats Peer(uint64_t id, bool connected) {
  PeerLinkStats p;
  p.peer = NodeId(id);
  p.address = "127.0.0.1:" + std::to_string(7000 + id);
  p.connected = connected;
  return p;
}

TEST(ClusterView, CountsLeadersPerMemberAndIsReadyWhenEveryPartitionHasOne) {
  ClusterView v = BuildClusterView(NodeId(2), "127.0.0.1:7002", {Peer(1, true), Peer(3, false)},
                                   {Led(1, 5, 5), Led(2, 7, 7), Led(1, 3, 3), Led(3, 9, 9)});
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].id, NodeId(1));
  EXPECT_EQ(v.members[0].partitions_led, 2u);
  EXPECT_TRUE(v.members[0].reachable);
  EXPECT_TRUE(v.members[1].self);
  EXPECT_EQ(v.members[1].address, "127.0.0.1:7002");
  EXPECT_EQ(v.members[1].partitions_led, 1u);
  EXPECT_FALSE(v.members[2].reachable);
  EXPECT_EQ(v.members[2].partitions_led, 1u);
  EXPECT_EQ(v.partitions, 4u);
  EXPECT_EQ(v.partitions_without_leader, 0u);
  EXPECT_FALSE(v.not_ready.has_value());
}

TEST(ClusterView, NotReadyWithoutALeaderOrWhileCatchingUp) {
  ClusterView none = BuildClusterView(NodeId(1), "a:1", {Peer(2, false)},
                                      {Led(0, 0, 0), std::nullopt, Led(1, 2, 2)});
  EXPECT_EQ(none.partitions_without_leader, 2u);
  ASSERT_TRUE(none.not_ready.has_value());
  EXPECT_NE(none.not_ready->find("2 of 3 partitions have no leader"), std::string::npos)
      << *none.not_ready;

  ClusterView behind = BuildClusterView(NodeId(1), "a:1", {Peer(2, true)}, {Led(2, 10, 4)});
  EXPECT_EQ(behind.partitions_catching_up, 1u);
  ASSERT_TRUE(behind.not_ready.has_value());
  EXPECT_NE(behind.not_ready->find("catching up"), std::string::npos);
}

TEST(ClusterView, TheLeaderReportsEachFollowersWorstLag) {
  multiraft::GroupStatus a = Led(1, 100, 100);
  a.last_index = LogIndex(120);
  a.match = {{NodeId(1), LogIndex(120)}, {NodeId(2), LogIndex(118)}, {NodeId(3), LogIndex(20)}};
  multiraft::GroupStatus b = Led(1, 50, 50);
  b.match = {{NodeId(2), LogIndex(10)}, {NodeId(3), LogIndex(50)}};
  multiraft::GroupStatus led_elsewhere = Led(2, 9, 9);
  led_elsewhere.match = {{NodeId(3), LogIndex(0)}};  // not this node's view to report
  ClusterView v =
      BuildClusterView(NodeId(1), "a:1", {Peer(2, true), Peer(3, true)}, {a, b, led_elsewhere});
  EXPECT_EQ(v.members[0].max_lag_entries, 0u);
  EXPECT_EQ(v.members[1].max_lag_entries, 40u);   // partition b: 50 - 10
  EXPECT_EQ(v.members[2].max_lag_entries, 100u);  // partition a: 120 - 20
}

}  // namespace
}  // namespace sluice::broker
