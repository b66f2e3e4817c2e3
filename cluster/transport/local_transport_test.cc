#include "cluster/transport/local_transport.h"

#include "cluster/transport/testing/recording_handler.h"
#include "gtest/gtest.h"

namespace sluice::transport {
namespace {

std::vector<GroupMessage> Batch(uint64_t group, raft::MessageType type, int n = 1) {
  std::vector<GroupMessage> b;
  for (int i = 0; i < n; ++i) {
    GroupMessage gm;
    gm.group = GroupId(group);
    gm.message.type = type;
    if (type == raft::MessageType::kSnap) gm.message.snapshot = raft::Snapshot{};
    b.push_back(gm);
  }
  return b;
}

TEST(LocalTransport, DeliversCutsAndHeals) {
  LocalNetwork net;
  RecordingHandler h1, h2;
  LocalTransport t1(&net, NodeId(1)), t2(&net, NodeId(2));
  ASSERT_TRUE(t1.Start(&h1).ok());
  ASSERT_TRUE(t2.Start(&h2).ok());
  t1.Send(NodeId(2), Batch(4, raft::MessageType::kApp, 3));
  EXPECT_EQ(h2.received().size(), 3u);
  EXPECT_EQ(h2.received()[0].from, NodeId(1));
  EXPECT_EQ(h2.received()[0].gm.group, GroupId(4));

  net.CutOneWay(NodeId(1), NodeId(2));
  t1.Send(NodeId(2), Batch(4, raft::MessageType::kApp));
  t2.Send(NodeId(1), Batch(4, raft::MessageType::kAppResp));
  EXPECT_EQ(h2.received().size(), 3u);
  EXPECT_EQ(h1.received().size(), 1u);
  EXPECT_EQ(t1.stats().messages_dropped_unreachable, 1u);

  net.HealAll();
  net.Isolate(NodeId(2));
  t1.Send(NodeId(2), Batch(4, raft::MessageType::kApp));
  EXPECT_EQ(h2.received().size(), 3u);
  net.HealAll();
  t1.Send(NodeId(2), Batch(4, raft::MessageType::kApp));
  EXPECT_EQ(h2.received().size(), 4u);
}

TEST(LocalTransport, SnapshotStatusReported) {
  LocalNetwork net;
  RecordingHandler h1, h2;
  LocalTransport t1(&net, NodeId(1)), t2(&net, NodeId(2));
  ASSERT_TRUE(t1.Start(&h1).ok());
  ASSERT_TRUE(t2.Start(&h2).ok());
  t1.Send(NodeId(2), Batch(8, raft::MessageType::kSnap));
  ASSERT_EQ(h1.snapshot_status().size(), 1u);
  EXPECT_EQ(h1.snapshot_status()[0], std::make_tuple(GroupId(8), NodeId(2), true));
  t2.Stop();
  t1.Send(NodeId(2), Batch(8, raft::MessageType::kSnap));
  ASSERT_EQ(h1.snapshot_status().size(), 2u);
  EXPECT_EQ(h1.snapshot_status()[1], std::make_tuple(GroupId(8), NodeId(2), false));
}

}  // namespace
}  // namespace sluice::transport
