// PartitionedLog in cluster mode with forward_proposals: three replicas over the in-process
// transport. An append made on a follower is forwarded to the leader and completes on the
// follower with the offset every replica gives the record; an append made while no leader
// exists waits for one (in order) instead of failing; every replica's applied listener hears
// every record once, in offset order; a standalone data directory is refused in cluster mode
// and the other way round. Every wait is bounded and waits for a condition.
#include <future>
#include <map>
#include <utility>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "cluster/transport/local_transport.h"
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

class ForwardingTest : public ::testing::Test {
 protected:
  void OpenNode(uint64_t id) {
    transports_[id] = std::make_unique<transport::LocalTransport>(&net_, NodeId(id));
    PartitionedLogOptions o = TestOptions(root_ + "/n" + std::to_string(id), 2);
    o.node_id = NodeId(id);
    o.transport = transports_[id].get();
    o.members = {NodeId(1), NodeId(2), NodeId(3)};
    o.forward_proposals = true;
    o.applied_listener = [this, id](std::vector<AppliedRecord> records) {
      std::lock_guard<std::mutex> lock(mu_);
      for (AppliedRecord& r : records) heard_[id][r.partition.value()].push_back(std::move(r));
    };
    o.event_listener = [this, id](LogIndex index, std::string_view body) {
      std::lock_guard<std::mutex> lock(mu_);
      events_[id].emplace_back(index, std::string(body));
    };
    absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(std::move(o));
    ASSERT_TRUE(log.ok()) << log.status();
    logs_[id] = std::move(*log);
  }
  uint64_t AwaitLeader(PartitionId p) {
    for (int round = 0; round < 200; ++round) {
      for (auto& [id, log] : logs_) {
        const NodeId self(id);
        if (log->AwaitRaftStatus(p, [&](const multiraft::GroupStatus& s) {
              return s.state == raft::StateType::kLeader && s.leader == self;
            }, milliseconds(50))) {
          return id;
        }
      }
    }
    return 0;
  }
  std::vector<AppliedRecord> Heard(uint64_t id, PartitionId p) {
    std::lock_guard<std::mutex> lock(mu_);
    return heard_[id][p.value()];
  }

  // Declared before the logs: their listeners write here until the logs are destroyed.
  std::mutex mu_;
  std::map<uint64_t, std::map<uint32_t, std::vector<AppliedRecord>>> heard_;
  std::map<uint64_t, std::vector<std::pair<LogIndex, std::string>>> events_;
  std::string root_ = TestDir();
  transport::LocalNetwork net_;
  std::map<uint64_t, std::unique_ptr<transport::LocalTransport>> transports_;
  std::map<uint64_t, std::unique_ptr<PartitionedLog>> logs_;
};

TEST_F(ForwardingTest, FollowerAppendsAreForwardedAndEveryReplicaHearsThem) {
  for (uint64_t id = 1; id <= 3; ++id) OpenNode(id);
  const uint64_t leader = AwaitLeader(kP0);
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader % 3 + 1;
  // Appends from a follower and from the leader, interleaved: offsets in proposal order.
  std::vector<std::future<absl::StatusOr<Offset>>> done;
  for (int i = 0; i < 50; ++i) {
    const uint64_t on = i % 2 == 0 ? follower : leader;
    done.push_back(logs_[on]->Append(kP0, MakeRecord("t", "m" + std::to_string(i))));
  }
  std::vector<Offset> offsets;
  for (auto& f : done) {
    absl::StatusOr<Offset> o = f.get();
    ASSERT_TRUE(o.ok()) << o.status();
    offsets.push_back(*o);
  }
  // Per node, its own appends got increasing offsets (a follower's arrive in its order).
  for (int start : {0, 1}) {
    for (size_t i = start + 2; i < offsets.size(); i += 2) EXPECT_LT(offsets[i - 2], offsets[i]);
  }
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(logs_[id]->AwaitRaftStatus(kP0, [&](const multiraft::GroupStatus&) {
      return Heard(id, kP0).size() == 50;
    }, kWait)) << "node " << id << " heard " << Heard(id, kP0).size();
    std::vector<AppliedRecord> heard = Heard(id, kP0);
    for (size_t i = 0; i < heard.size(); ++i) {
      EXPECT_EQ(heard[i].offset, Offset(i)) << "node " << id;
      absl::StatusOr<Record> r = DecodeRecord(heard[i].record);
      ASSERT_TRUE(r.ok()) << r.status();
      // The record each offset holds is the same on every node and matches what Read says.
      absl::StatusOr<std::vector<StoredRecord>> read = logs_[id]->Read(kP0, Offset(i), 1);
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_EQ((*read)[0].record.payload, r->payload);
      EXPECT_EQ(r->payload, DecodeRecord(Heard(1, kP0)[i].record)->payload);
    }
  }
  // Metadata writes are forwarded too.
  ASSERT_TRUE(logs_[follower]->PutState("k", "v").ok());
  EXPECT_EQ(ValueOrDie(logs_[follower]->ScanState("k")).size(), 1u);
}

// Metadata events proposed on any replica reach every replica's listener once, in one order,
// with the index the proposer is told; they leave no state behind.
TEST_F(ForwardingTest, EventsReachEveryReplicaInOneOrder) {
  for (uint64_t id = 1; id <= 3; ++id) OpenNode(id);
  ASSERT_NE(AwaitLeader(kP0), 0u);
  std::vector<std::future<absl::StatusOr<LogIndex>>> done;
  for (int i = 0; i < 30; ++i) {
    auto p = std::make_shared<std::promise<absl::StatusOr<LogIndex>>>();
    done.push_back(p->get_future());
    logs_[i % 3 + 1]->ProposeEvent("e" + std::to_string(i),
                                   [p](absl::StatusOr<LogIndex> r) { p->set_value(r); });
  }
  std::map<std::string, LogIndex> told;
  for (int i = 0; i < 30; ++i) {
    absl::StatusOr<LogIndex> r = done[i].get();
    ASSERT_TRUE(r.ok()) << r.status();
    told["e" + std::to_string(i)] = *r;
  }
  auto events_of = [&](uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return events_[id];
  };
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(logs_[id]->AwaitRaftStatus(kP0, [&](const multiraft::GroupStatus&) {
      return events_of(id).size() >= 30;
    }, kWait)) << "node " << id << " heard " << events_of(id).size();
    EXPECT_EQ(events_of(id), events_of(1)) << "node " << id;
  }
  for (const auto& [index, body] : events_of(1)) EXPECT_EQ(told[body], index) << body;
  EXPECT_TRUE(ValueOrDie(logs_[1]->ScanState("")).empty());
}

TEST_F(ForwardingTest, AppendWithoutLeaderWaitsForOneInOrder) {
  OpenNode(1);  // alone: no quorum, no leader
  std::vector<std::future<absl::StatusOr<Offset>>> done;
  for (int i = 0; i < 5; ++i) done.push_back(logs_[1]->Append(kP0, MakeRecord("t", std::to_string(i))));
  // Parked, not failed: they wait for a leader.
  ASSERT_TRUE(logs_[1]->AwaitRaftStatus(kP0, [&](const multiraft::GroupStatus&) {
    return logs_[1]->stats().proposals_parked >= 5;
  }, kWait));
  EXPECT_EQ(done[0].wait_for(milliseconds(0)), std::future_status::timeout);
  OpenNode(2);
  OpenNode(3);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Offset> o = done[i].get();
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(*o, Offset(i));
  }
  EXPECT_EQ(logs_[1]->stats().proposals_parked_now, 0u);
}

TEST(ForwardingOptionsTest, NoLeaderWithinTheTimeoutFails) {
  transport::LocalNetwork net;
  transport::LocalTransport t(&net, NodeId(1));
  PartitionedLogOptions o = TestOptions(TestDir(), 1);
  o.members = {NodeId(1), NodeId(2), NodeId(3)};
  o.transport = &t;
  o.forward_proposals = true;
  o.append_timeout_ms = 200;
  auto log = ValueOrDie(PartitionedLog::Open(o));
  absl::StatusOr<Offset> r = log->Append(kP0, MakeRecord("t", "x")).get();
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
}

TEST(ForwardingOptionsTest, StandaloneAndClusterDirectoriesAreNotMixed) {
  const std::string standalone_dir = TestDir() + "/standalone";
  {
    auto log = ValueOrDie(PartitionedLog::Open(TestOptions(standalone_dir, 1)));
    ASSERT_TRUE(log->Append(kP0, MakeRecord("t", "x")).get().ok());
  }
  transport::LocalNetwork net;
  {
    transport::LocalTransport t(&net, NodeId(1));
    PartitionedLogOptions o = TestOptions(standalone_dir, 1);
    o.members = {NodeId(1), NodeId(2), NodeId(3)};
    o.transport = &t;
    absl::Status st = PartitionedLog::Open(o).status();
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_NE(st.message().find("standalone"), std::string_view::npos) << st;
  }
  const std::string cluster_dir = TestDir() + "/cluster";
  {
    transport::LocalTransport t(&net, NodeId(1));
    PartitionedLogOptions o = TestOptions(cluster_dir, 1);
    o.members = {NodeId(1), NodeId(2), NodeId(3)};
    o.transport = &t;
    ASSERT_TRUE(PartitionedLog::Open(o).ok());
  }
  absl::Status st = PartitionedLog::Open(TestOptions(cluster_dir, 1)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
}

}  // namespace
}  // namespace sluice::storage
