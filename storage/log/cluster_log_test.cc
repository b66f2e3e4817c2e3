// PartitionedLog in cluster mode: three replicas over the in-process transport, each with its
// own directory and driver thread. Open returns without a leader; appends on a follower fail
// FailedPrecondition; every replica reads the same records, QoS 2 entries and retained
// messages; a restarted replica has replayed its log when Open returns. Every wait is bounded
// and waits for a condition (AwaitRaftStatus, futures).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/transport/local_transport.h"
#include "base/status.h"
#include "gtest/gtest.h"
#include "storage/log/partitioned_log.h"
#include "storage/testing/log_fixture.h"

namespace sluice::storage {
namespace {

using std::chrono::milliseconds;
using testing::MakeRecord;
using testing::TestDir;
using testing::TestOptions;

constexpr milliseconds kWait(10'000);
constexpr PartitionId kP0(0);

class ClusterLogTest : public ::testing::Test {
 protected:
  PartitionedLogOptions Options(uint64_t id) {
    PartitionedLogOptions o = TestOptions(root_ + "/n" + std::to_string(id), 2);
    o.node_id = NodeId(id);
    o.transport = transports_[id].get();
    o.members = {NodeId(1), NodeId(2), NodeId(3)};
    return o;
  }
  void OpenNode(uint64_t id) {
    transports_[id] = std::make_unique<transport::LocalTransport>(&net_, NodeId(id));
    absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(Options(id));
    ASSERT_TRUE(log.ok()) << log.status();
    logs_[id] = std::move(*log);
  }
  void CloseNode(uint64_t id) {
    logs_[id].reset();  // stops the transport first, then the driver
    transports_[id].reset();
  }
  // The node that leads `p` (0 when none within the bound).
  uint64_t AwaitLeader(PartitionId p) {
    for (int round = 0; round < 200; ++round) {
      for (uint64_t id = 1; id <= 3; ++id) {
        if (!logs_[id]) continue;
        const NodeId self(id);
        if (logs_[id]->AwaitRaftStatus(p, [&](const multiraft::GroupStatus& s) {
              return s.state == raft::StateType::kLeader && s.leader == self;
            }, milliseconds(50))) {
          return id;
        }
      }
    }
    return 0;
  }
  // Appends on whoever leads `p`, retrying (bounded) when leadership moves.
  Offset AppendOnLeader(PartitionId p, const Record& r, uint16_t packet_id = 0) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const uint64_t leader = AwaitLeader(p);
      if (leader == 0) continue;
      std::promise<absl::StatusOr<Offset>> done;
      std::future<absl::StatusOr<Offset>> f = done.get_future();
      logs_[leader]->Append(p, r, packet_id,
                            [&done](absl::StatusOr<Offset> o) { done.set_value(std::move(o)); });
      absl::StatusOr<Offset> o = f.get();
      if (o.ok()) return *o;
    }
    ADD_FAILURE() << "could not append to partition " << p;
    return Offset(~uint64_t{0});
  }
  // Waits until every open replica has applied `p` as far as its leader has. The leader's
  // applied state (Info), not its published Raft status: an append's callback runs before the
  // driver publishes the status of that turn.
  void AwaitReplicated(PartitionId p) {
    const uint64_t leader = AwaitLeader(p);
    ASSERT_NE(leader, 0u);
    const LogIndex applied = logs_[leader]->Info(p)->applied;
    for (auto& [id, log] : logs_) {
      if (!log) continue;
      ASSERT_TRUE(log->AwaitRaftStatus(
          p, [&](const multiraft::GroupStatus& s) { return s.applied >= applied; }, kWait))
          << "node " << id;
    }
  }

  std::string root_ = TestDir();
  transport::LocalNetwork net_;
  std::map<uint64_t, std::unique_ptr<transport::LocalTransport>> transports_;
  std::map<uint64_t, std::unique_ptr<PartitionedLog>> logs_;
};

TEST_F(ClusterLogTest, OpenWithoutLeaderAppendOnLeaderOnlyReplicasAgree) {
  // Alone, node 1 has no quorum: Open must return all the same (it waits only for the replay).
  OpenNode(1);
  EXPECT_EQ(logs_[1]->node_id(), NodeId(1));
  EXPECT_NE(logs_[1]->RaftStatus(kP0)->state, raft::StateType::kLeader);
  OpenNode(2);
  OpenNode(3);
  const uint64_t leader = AwaitLeader(kP0);
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader % 3 + 1;
  absl::StatusOr<Offset> refused = logs_[follower]->Append(kP0, MakeRecord("a", "x")).get();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  // A retained topic of the other partition (so that kP0's offsets are 0, 1, 2 below).
  std::string topic = "r0";
  for (int i = 1; i < 64 && logs_[1]->PartitionFor(topic) == kP0; ++i) {
    topic = "r" + std::to_string(i);
  }
  Record retained = MakeRecord(topic, "kept");
  retained.retain = true;
  const PartitionId rp = logs_[1]->PartitionFor(topic);
  ASSERT_NE(rp, kP0);
  EXPECT_EQ(AppendOnLeader(kP0, MakeRecord("a", "one")), Offset(0));
  EXPECT_EQ(AppendOnLeader(kP0, MakeRecord("a", "two"), 9), Offset(1));
  const Offset retained_at = AppendOnLeader(rp, retained);
  AwaitReplicated(kP0);
  AwaitReplicated(rp);
  for (uint64_t id = 1; id <= 3; ++id) {
    absl::StatusOr<std::vector<StoredRecord>> records = logs_[id]->Read(kP0, Offset(0), 10);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 2u) << "node " << id;
    EXPECT_EQ((*records)[0].record.payload, "one");
    EXPECT_EQ((*records)[1].record.payload, "two");
    std::vector<PendingQos2> qos2 = ValueOrDie(logs_[id]->ListPendingQos2());
    ASSERT_EQ(qos2.size(), 1u) << "node " << id;
    EXPECT_EQ(qos2[0].offset, Offset(1));
    EXPECT_EQ(qos2[0].packet_id, 9);
    std::vector<StoredRecord> kept = ValueOrDie(logs_[id]->ListRetained());
    ASSERT_EQ(kept.size(), 1u) << "node " << id;
    EXPECT_EQ(kept[0].offset, retained_at);
    EXPECT_EQ(kept[0].record.payload, "kept");
  }

  // A restarted follower has replayed what it had committed by the time Open returns.
  CloseNode(follower);
  OpenNode(follower);
  absl::StatusOr<PartitionInfo> info = logs_[follower]->Info(kP0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->high_watermark, Offset(2));
  // ... and keeps following: a record appended now reaches it.
  EXPECT_EQ(AppendOnLeader(kP0, MakeRecord("a", "three")), Offset(2));
  AwaitReplicated(kP0);
  absl::StatusOr<std::vector<StoredRecord>> tail = logs_[follower]->Read(kP0, Offset(2), 10);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].record.payload, "three");
}

TEST(ClusterLogOptionsTest, MembersAreValidated) {
  const std::string dir = TestDir();
  transport::LocalNetwork net;
  transport::LocalTransport t(&net, NodeId(2));
  PartitionedLogOptions o = TestOptions(dir, 1);
  o.node_id = NodeId(2);
  o.members = {NodeId(1), NodeId(3)};
  o.transport = &t;
  EXPECT_TRUE(absl::IsInvalidArgument(PartitionedLog::Open(o).status()));  // without itself
  o.members = {NodeId(1), NodeId(2), NodeId(2)};
  EXPECT_TRUE(absl::IsInvalidArgument(PartitionedLog::Open(o).status()));  // twice
  o.members = {NodeId(1), NodeId(2)};
  o.transport = nullptr;
  EXPECT_TRUE(absl::IsInvalidArgument(PartitionedLog::Open(o).status()));  // no transport
}

// Standalone with another node id: still one member, still writable when Open returns.
TEST(ClusterLogOptionsTest, StandaloneWithAnotherNodeId) {
  PartitionedLogOptions o = TestOptions(TestDir(), 1);
  o.node_id = NodeId(7);
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->node_id(), NodeId(7));
  EXPECT_EQ((*log)->RaftStatus(PartitionId(0))->leader, NodeId(7));
  absl::StatusOr<Offset> off = (*log)->Append(PartitionId(0), MakeRecord("t", "p")).get();
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(*off, Offset(0));
}

}  // namespace
}  // namespace sluice::storage
