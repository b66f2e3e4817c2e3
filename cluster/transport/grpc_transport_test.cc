#include "cluster/transport/grpc_transport.h"

#include <memory>
#include <string>

#include "cluster/transport/testing/recording_handler.h"
#include "gtest/gtest.h"

namespace sluice::transport {
namespace {

using std::chrono::milliseconds;

GroupMessage Msg(uint64_t group, uint64_t from, uint64_t to, uint64_t index,
                 raft::MessageType type = raft::MessageType::kApp) {
  GroupMessage gm;
  gm.group = GroupId(group);
  gm.message.type = type;
  gm.message.from = NodeId(from);
  gm.message.to = NodeId(to);
  gm.message.index = LogIndex(index);
  gm.message.entries.push_back({sluice::Term(1), LogIndex(index + 1), raft::EntryType::kNormal,
                                "payload-" + std::to_string(index)});
  return gm;
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

std::unique_ptr<GrpcTransport> StartNode(uint64_t id, RecordingHandler* h, int port = 0,
                                         GrpcTransportOptions o = {}) {
  o.self = NodeId(id);
  o.listen_address = Addr(port);
  auto t = std::make_unique<GrpcTransport>(o);
  absl::Status st = t->Start(h);
  EXPECT_TRUE(st.ok()) << st;
  return t;
}

TEST(GrpcTransport, DeliversBatchesOfManyGroupsBothWays) {
  RecordingHandler h1, h2;
  auto t1 = StartNode(1, &h1);
  auto t2 = StartNode(2, &h2);
  t1->AddPeer(NodeId(2), Addr(t2->port()));
  t2->AddPeer(NodeId(1), Addr(t1->port()));
  t1->Send(NodeId(2), {Msg(1, 1, 2, 10), Msg(2, 1, 2, 20), Msg(3, 1, 2, 30)});
  t2->Send(NodeId(1), {Msg(7, 2, 1, 5)});
  ASSERT_TRUE(h2.WaitFor([&] { return h2.received().size() == 3; }));
  ASSERT_TRUE(h1.WaitFor([&] { return h1.received().size() == 1; }));
  std::lock_guard<std::mutex> l(h2.mu());
  EXPECT_EQ(h2.received()[0].from, NodeId(1));
  EXPECT_EQ(h2.received()[1].gm.group, GroupId(2));
  EXPECT_EQ(h2.received()[2].gm.message.index, LogIndex(30));
  EXPECT_EQ(h2.received()[2].gm.message.entries[0].data, "payload-30");
}

TEST(GrpcTransport, KeepsOrderOverManyBatches) {
  RecordingHandler h1, h2;
  GrpcTransportOptions o;
  o.send_queue_msgs_max = 1 << 20;
  auto t1 = StartNode(1, &h1, 0, o);
  auto t2 = StartNode(2, &h2);
  t1->AddPeer(NodeId(2), Addr(t2->port()));
  constexpr int kMessages = 5000;
  for (int i = 0; i < kMessages; i += 50) {
    std::vector<GroupMessage> b;
    for (int j = i; j < i + 50; ++j) b.push_back(Msg(1, 1, 2, j));
    t1->Send(NodeId(2), std::move(b));
  }
  ASSERT_TRUE(h2.WaitFor([&] { return h2.received().size() == kMessages; }));
  std::lock_guard<std::mutex> l(h2.mu());
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(h2.received()[i].gm.message.index, LogIndex(i));
  }
  EXPECT_EQ(t1->stats().messages_dropped_queue_full, 0u);
  EXPECT_EQ(t1->stats().messages_dropped_unreachable, 0u);
}

TEST(GrpcTransport, SnapshotTravelsInChunks) {
  RecordingHandler h1, h2;
  GrpcTransportOptions o;
  o.snapshot_chunk_bytes = 256 << 10;
  auto t1 = StartNode(1, &h1, 0, o);
  auto t2 = StartNode(2, &h2);
  t1->AddPeer(NodeId(2), Addr(t2->port()));
  GroupMessage snap = Msg(5, 1, 2, 0, raft::MessageType::kSnap);
  snap.message.entries.clear();
  raft::Snapshot s;
  s.metadata = {LogIndex(1000), sluice::Term(4), {{NodeId(1), NodeId(2), NodeId(3)}, {}}};
  s.data.resize(3 << 20);
  for (size_t i = 0; i < s.data.size(); ++i) s.data[i] = static_cast<char>(i * 7);
  snap.message.snapshot = s;
  t1->Send(NodeId(2), {snap, Msg(5, 1, 2, 1001)});
  ASSERT_TRUE(h2.WaitFor([&] { return h2.received().size() == 2; }));
  ASSERT_TRUE(h1.WaitFor([&] { return h1.snapshot_status().size() == 1; }));
  std::lock_guard<std::mutex> l(h2.mu());
  const GroupMessage* got = nullptr;
  for (const auto& r : h2.received()) {
    if (r.gm.message.type == raft::MessageType::kSnap) got = &r.gm;
  }
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->group, GroupId(5));
  EXPECT_EQ(*got->message.snapshot, s);
  EXPECT_EQ(h1.snapshot_status()[0], std::make_tuple(GroupId(5), NodeId(2), true));
}

TEST(GrpcTransport, ReconnectsWhenThePeerComesBack) {
  RecordingHandler h1, h2;
  auto t1 = StartNode(1, &h1);
  auto t2 = StartNode(2, &h2);
  const int port2 = t2->port();
  t2.reset();  // node 2 goes down
  t1->AddPeer(NodeId(2), Addr(port2));
  t1->Send(NodeId(2), {Msg(1, 1, 2, 1)});
  ASSERT_TRUE(h1.WaitFor([&] { return !h1.unreachable().empty(); }));
  EXPECT_EQ(h1.unreachable()[0], NodeId(2));
  EXPECT_GE(t1->stats().messages_dropped_unreachable, 1u);

  t2 = StartNode(2, &h2, port2);  // back on the same port
  // Raft resends until heard; so does this test, each attempt waiting for delivery (bounded).
  bool delivered = false;
  for (int attempt = 0; attempt < 100 && !delivered; ++attempt) {
    t1->Send(NodeId(2), {Msg(1, 1, 2, 2)});
    delivered = h2.WaitFor([&] { return !h2.received().empty(); }, milliseconds(100));
  }
  EXPECT_TRUE(delivered);
}

TEST(GrpcTransport, BoundedQueueDropsAndCounts) {
  RecordingHandler h1, h2;
  GrpcTransportOptions o;
  o.send_queue_msgs_max = 10;
  o.reconnect_backoff_initial_ms = 2000;  // the peer thread stays in its first connect attempt
  auto t1 = StartNode(1, &h1, 0, o);
  auto t2 = StartNode(2, &h2);
  const int port2 = t2->port();
  t2.reset();
  t1->AddPeer(NodeId(2), Addr(port2));
  std::vector<GroupMessage> b;
  for (int i = 0; i < 100; ++i) b.push_back(Msg(1, 1, 2, i));
  t1->Send(NodeId(2), std::move(b));
  EXPECT_EQ(t1->stats().messages_dropped_queue_full, 90u);
  t1->Send(NodeId(9), {Msg(1, 1, 9, 0)});  // unknown peer
  EXPECT_EQ(t1->stats().messages_dropped_unreachable, 1u);
}

TEST(GrpcTransport, StopIsPromptWithOpenStreams) {
  RecordingHandler h1, h2;
  auto t1 = StartNode(1, &h1);
  auto t2 = StartNode(2, &h2);
  t1->AddPeer(NodeId(2), Addr(t2->port()));
  t2->AddPeer(NodeId(1), Addr(t1->port()));
  t1->Send(NodeId(2), {Msg(1, 1, 2, 1)});
  ASSERT_TRUE(h2.WaitFor([&] { return h2.received().size() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  t2->Stop();
  t1->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace sluice::transport
