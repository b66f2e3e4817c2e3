// MultiRaft on real RocksDB directories and the in-process transport. Every wait is bounded and
// waits for a condition (AwaitStatus / AwaitCount / futures).
#include "cluster/multiraft/multiraft.h"

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cluster/multiraft/testing/recording_state_machine.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/local_transport.h"
#include "gtest/gtest.h"

namespace sluice::multiraft {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait(10'000);

struct Node {
  NodeId id;
  std::unique_ptr<raftstore::RocksDbLogStore> store;
  std::unique_ptr<transport::LocalTransport> transport;
  RecordingStateMachine sm;
  std::unique_ptr<MultiRaft> mr;
};

class MultiRaftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = std::string(tmp ? tmp : "/tmp") + "/multiraft_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override {
    for (auto& [id, n] : nodes_) StopNode(id);
  }

  MultiRaftOptions Options(uint64_t id) {
    MultiRaftOptions o;
    o.self = NodeId(id);
    o.tick_ms = 10;
    o.election_tick = 10;
    o.snapshot_interval_entries = snapshot_interval_;
    o.compaction_lag_entries = 5;
    o.max_learner_lag_entries = max_learner_lag_entries_;
    return o;
  }

  Node& StartNode(uint64_t id) {
    auto& n = nodes_[id];
    if (!n) n = std::make_unique<Node>();
    n->id = NodeId(id);
    auto store = raftstore::RocksDbLogStore::Open(root_ + "/n" + std::to_string(id));
    EXPECT_TRUE(store.ok()) << store.status();
    n->store = std::move(*store);
    n->transport = std::make_unique<transport::LocalTransport>(&net_, NodeId(id));
    n->mr = std::make_unique<MultiRaft>(Options(id), n->store.get(), n->transport.get(), &n->sm);
    EXPECT_TRUE(n->transport->Start(n->mr.get()).ok());
    EXPECT_TRUE(n->mr->Start().ok());
    return *n;
  }

  void StopNode(uint64_t id) {
    auto& n = nodes_[id];
    if (!n || !n->mr) return;
    n->transport->Stop();
    n->mr->Stop();
    n->mr.reset();
    n->transport.reset();
    n->store.reset();
  }

  void CreateEverywhere(GroupId g, std::vector<uint64_t> ids) {
    raft::ConfState cs;
    for (uint64_t id : ids) cs.voters.push_back(NodeId(id));
    for (uint64_t id : ids) ASSERT_TRUE(nodes_[id]->mr->CreateGroup(g, cs).ok());
  }

  // Waits until some running node says it leads `g`; returns it (0 on timeout). Each node is
  // asked in turn with a short bounded wait on its status condition.
  uint64_t AwaitLeader(GroupId g) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& [id, n] : nodes_) {
        if (!n->mr) continue;
        const NodeId self = n->id;
        if (n->mr->AwaitStatus(g, [&](const GroupStatus& s) {
              return s.state == raft::StateType::kLeader && s.leader == self;
            }, milliseconds(20))) {
          return id;
        }
      }
    }
    return 0;
  }

  // Proposes on whoever leads `g`, retrying when leadership moves; bounded.
  LogIndex ProposeOnLeader(GroupId g, const std::string& data) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const uint64_t leader = AwaitLeader(g);
      if (leader == 0) continue;
      auto r = nodes_[leader]->mr->Propose(g, data).get();
      if (r.ok()) return *r;
    }
    ADD_FAILURE() << "could not commit " << data;
    return LogIndex(0);
  }

  std::string root_;
  uint64_t snapshot_interval_ = 0;
  uint64_t max_learner_lag_entries_ = 1000;
  transport::LocalNetwork net_;
  std::map<uint64_t, std::unique_ptr<Node>> nodes_;
};

TEST_F(MultiRaftTest, ElectsReplicatesAndRefusesFollowerProposals) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(1);
  CreateEverywhere(g, {1, 2, 3});
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  std::vector<std::future<absl::StatusOr<LogIndex>>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(nodes_[leader]->mr->Propose(g, "v" + std::to_string(i)));
  LogIndex prev;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GT(*r, prev);
    prev = *r;
  }
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_TRUE(nodes_[id]->sm.AwaitCount(g, 20, kWait));
    EXPECT_EQ(nodes_[id]->sm.applied(g), nodes_[leader]->sm.applied(g));
  }
  const uint64_t follower = leader == 1 ? 2 : 1;
  auto r = nodes_[follower]->mr->Propose(g, "nope").get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(nodes_[leader]->mr->Propose(GroupId(99), "x").get().status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MultiRaftTest, ManyGroupsShareStorageWrites) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  constexpr int kGroups = 16;
  for (int g = 1; g <= kGroups; ++g) CreateEverywhere(GroupId(g), {1, 2, 3});
  for (int g = 1; g <= kGroups; ++g) {
    for (int i = 0; i < 5; ++i) ProposeOnLeader(GroupId(g), "g" + std::to_string(g));
  }
  for (int g = 1; g <= kGroups; ++g) {
    for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(nodes_[id]->sm.AwaitCount(GroupId(g), 5, kWait));
  }
  const MultiRaftStats s = nodes_[1]->mr->stats();
  EXPECT_GT(s.readies, s.storage_writes);  // several groups' Readies per synced write
  // Every synced write is timed once (metrics: sluice_storage_sync_write_duration_seconds).
  EXPECT_EQ(s.storage_write_latency.count, s.storage_writes);
  uint64_t in_buckets = 0;
  for (uint64_t b : s.storage_write_latency.buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, s.storage_write_latency.count);
  EXPECT_GT(s.storage_write_latency.sum_us, 0u);
}

TEST(StorageWriteHistogramTest, BucketsByUpperBound) {
  StorageWriteHistogram h;
  h.Observe(0);
  h.Observe(50);        // le 50 us
  h.Observe(51);        // le 100 us
  h.Observe(20'000'000);  // +Inf
  EXPECT_EQ(h.buckets[0], 2u);
  EXPECT_EQ(h.buckets[1], 1u);
  EXPECT_EQ(h.buckets.back(), 1u);
  EXPECT_EQ(h.count, 4u);
  EXPECT_EQ(h.sum_us, 20'000'101u);
}

TEST_F(MultiRaftTest, RestartedNodeRecoversFromItsDirectory) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(3);
  CreateEverywhere(g, {1, 2, 3});
  for (int i = 0; i < 10; ++i) ProposeOnLeader(g, "a" + std::to_string(i));
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(nodes_[id]->sm.AwaitCount(g, 10, kWait));
  const auto before = nodes_[2]->sm.applied(g);
  StopNode(2);
  nodes_[2]->sm.Restore(g, LogIndex(0), "");  // the process "lost" its memory
  for (int i = 0; i < 5; ++i) ProposeOnLeader(g, "b" + std::to_string(i));
  StartNode(2);  // no CreateGroup: Start reopens what the store has
  ASSERT_TRUE(nodes_[2]->sm.AwaitCount(g, 15, kWait));
  EXPECT_EQ(nodes_[2]->sm.applied(g), nodes_[1]->sm.applied(g));
  EXPECT_TRUE(std::equal(before.begin(), before.end(), nodes_[2]->sm.applied(g).begin()));
}

TEST_F(MultiRaftTest, LaggingFollowerCatchesUpBySnapshot) {
  snapshot_interval_ = 10;
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(4);
  CreateEverywhere(g, {1, 2, 3});
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  const uint64_t lagging = leader == 3 ? 2 : 3;
  net_.Isolate(NodeId(lagging));
  for (int i = 0; i < 60; ++i) {
    auto r = nodes_[leader]->mr->Propose(g, "s" + std::to_string(i)).get();
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_GE(nodes_[leader]->mr->stats().snapshots_taken, 1u);
  net_.HealAll();
  ASSERT_TRUE(nodes_[lagging]->sm.AwaitCount(g, 60, kWait));
  EXPECT_EQ(nodes_[lagging]->sm.applied(g), nodes_[leader]->sm.applied(g));
  EXPECT_GE(nodes_[lagging]->sm.restores(), 1);  // it got a snapshot, not the whole log
}

TEST_F(MultiRaftTest, LeaderChangeFailsPendingProposals) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(5);
  CreateEverywhere(g, {1, 2, 3});
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  EXPECT_GE(nodes_[leader]->mr->Status(g)->leader_changes, 1u);  // itself
  net_.Isolate(NodeId(leader));  // its proposals cannot commit; check-quorum deposes it
  auto f = nodes_[leader]->mr->Propose(g, "lost?");
  auto r = f.get();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == absl::StatusCode::kUnavailable ||
              r.status().code() == absl::StatusCode::kDeadlineExceeded)
      << r.status();
  net_.HealAll();
  // The old leader learns the new one: a second leader change on that node.
  EXPECT_TRUE(nodes_[leader]->mr->AwaitStatus(
      g,
      [&](const GroupStatus& s) {
        return s.leader != NodeId() && s.leader != NodeId(leader) && s.leader_changes >= 2;
      },
      kWait));
}

// ReadIndex on the leader and on a follower: each completes only once that node has applied
// everything committed before the read was asked for.
TEST_F(MultiRaftTest, ReadIndexSeesEveryEarlierWrite) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(6);
  CreateEverywhere(g, {1, 2, 3});
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  LogIndex last;
  for (int i = 0; i < 5; ++i) last = ProposeOnLeader(g, "w" + std::to_string(i));
  for (auto& [id, n] : nodes_) {
    absl::StatusOr<LogIndex> r;
    // A follower may not know the leader yet, or the leader may not have committed in its
    // term: both are FailedPrecondition and are retried (bounded).
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = n->mr->ReadIndex(g).get();
      if (r.ok() || r.status().code() != absl::StatusCode::kFailedPrecondition) break;
      n->mr->AwaitStatus(g, [](const GroupStatus& s) { return s.leader != NodeId(); },
                         milliseconds(100));
    }
    ASSERT_TRUE(r.ok()) << "node " << id << ": " << r.status();
    EXPECT_GE(*r, last) << "node " << id;
    // Completed: the node's state machine already holds every write acknowledged before.
    EXPECT_GE(n->sm.count(g), 5u) << "node " << id;
    EXPECT_GE(n->mr->Status(g)->applied, *r) << "node " << id;
  }
  EXPECT_EQ(nodes_[leader]->mr->ReadIndex(GroupId(999)).get().status().code(),
            absl::StatusCode::kNotFound);
}

// A read on a leader cut off from its quorum is never confirmed: it fails, it does not return
// a possibly stale index.
TEST_F(MultiRaftTest, ReadIndexOnIsolatedLeaderFails) {
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(7);
  CreateEverywhere(g, {1, 2, 3});
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  ProposeOnLeader(g, "x");
  net_.Isolate(NodeId(leader));
  auto r = nodes_[leader]->mr->ReadIndex(g).get();
  EXPECT_FALSE(r.ok());
  net_.HealAll();
}

// Promotion of a learner through the driver: refused while it lags, accepted once caught up.
TEST_F(MultiRaftTest, PromoteLearnerOnlyWhenCaughtUp) {
  max_learner_lag_entries_ = 2;
  for (uint64_t id : {1, 2, 3}) StartNode(id);
  const GroupId g(8);
  CreateEverywhere(g, {1, 2, 3});
  // A new leader takes conf changes once its own first entry is applied: commit one first.
  ProposeOnLeader(g, "first");
  const uint64_t leader = AwaitLeader(g);
  ASSERT_NE(leader, 0u);
  // Node 4 is added as a learner but not running yet: it cannot acknowledge anything.
  auto add = nodes_[leader]->mr->ProposeConfChange(
      g, raft::ConfChange{raft::ConfChangeType::kAddLearner, NodeId(4), {}});
  ASSERT_TRUE(add.get().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(nodes_[leader]->mr->Propose(g, "p").get().ok());
  auto refused = nodes_[leader]->mr->PromoteLearner(g, NodeId(4)).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("not caught up"), std::string_view::npos);

  // Started with the membership it joins, it catches up; the leader's status shows its match.
  StartNode(4);
  raft::ConfState joining{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4)}};
  ASSERT_TRUE(nodes_[4]->mr->CreateGroup(g, joining).ok());
  ASSERT_TRUE(nodes_[leader]->mr->AwaitStatus(g, [](const GroupStatus& s) {
    auto it = s.match.find(NodeId(4));
    return it != s.match.end() && it->second >= s.last_index;
  }, kWait));
  auto promoted = nodes_[leader]->mr->PromoteLearner(g, NodeId(4)).get();
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_TRUE(nodes_[4]->mr->AwaitStatus(
      g, [](const GroupStatus& s) { return s.conf_state.voters.size() == 4; }, kWait));
}

}  // namespace
}  // namespace sluice::multiraft
