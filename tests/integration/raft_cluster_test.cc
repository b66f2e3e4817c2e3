// Three (then four) Raft nodes in one process over real gRPC on 127.0.0.1, each with its own
// RocksDB directory: election, replication, losing the leader, restart and catch-up from disk,
// adding a learner and promoting it only once caught up, removing a member; a hard crash of
// the leader mid-traffic and recovery from its crash image; removing the current leader. Every
// wait is bounded and waits for a condition (status/apply condition variables, futures); there
// are no sleeps.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <set>

#include "cluster/multiraft/testing/recording_state_machine.h"
#include "cluster/testing/loopback_cluster.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using cluster_testing::LoopbackCluster;
using cluster_testing::LoopbackClusterOptions;
using multiraft::GroupStatus;
using multiraft::RecordingStateMachine;
using std::chrono::milliseconds;

constexpr milliseconds kWait(10'000);
const GroupId kMeta(1);   // stands for the metadata group
const GroupId kPart(77);  // stands for a partition group sharing the same streams

class RaftClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    LoopbackClusterOptions o;
    o.root_dir = std::string(tmp ? tmp : "/tmp") + "/raft_cluster_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(o.root_dir);
    o.multiraft.tick_ms = 20;
    o.multiraft.election_tick = 10;
    o.multiraft.proposal_timeout_ms = 3000;
    o.multiraft.snapshot_interval_entries = 25;  // exercise snapshots and compaction too
    o.multiraft.compaction_lag_entries = 5;
    o.multiraft.max_learner_lag_entries = 5;
    cluster_ = std::make_unique<LoopbackCluster>(o);
  }
  void TearDown() override { cluster_.reset(); }

  absl::Status Start(uint64_t id) {
    auto& sm = sms_[id];
    sm = std::make_unique<RecordingStateMachine>();  // a restarted process starts empty
    return cluster_->StartNode(NodeId(id), sm.get());
  }

  void ProposeN(GroupId g, const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      auto r = cluster_->Propose(g, prefix + std::to_string(i), kWait);
      ASSERT_TRUE(r.ok()) << prefix << i << ": " << r.status();
    }
  }

  // Every listed node applies exactly the same `n` payloads for `g`.
  void ExpectApplied(GroupId g, std::vector<uint64_t> ids, size_t n) {
    for (uint64_t id : ids) {
      ASSERT_TRUE(sms_[id]->AwaitCount(g, n, kWait)) << "node " << id << " has "
                                                     << sms_[id]->count(g);
    }
    for (uint64_t id : ids) {
      EXPECT_EQ(sms_[id]->applied(g), sms_[ids[0]]->applied(g)) << "node " << id;
      EXPECT_EQ(sms_[id]->count(g), n) << "node " << id;
    }
  }

  bool AwaitVoters(uint64_t on, GroupId g, size_t voters, size_t learners) {
    return cluster_->node(NodeId(on))->AwaitStatus(
        g, [&](const GroupStatus& s) {
          return s.conf_state.voters.size() == voters && s.conf_state.learners.size() == learners;
        }, kWait);
  }

  // The nodes apply to the state machines: declared first, so destroyed after the cluster.
  std::map<uint64_t, std::unique_ptr<RecordingStateMachine>> sms_;
  std::unique_ptr<LoopbackCluster> cluster_;
};

TEST_F(RaftClusterTest, ElectReplicateFailOverRestartAndChangeMembership) {
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(Start(id).ok());
  const std::vector<NodeId> members{NodeId(1), NodeId(2), NodeId(3)};
  ASSERT_TRUE(cluster_->CreateGroup(kMeta, members).ok());
  ASSERT_TRUE(cluster_->CreateGroup(kPart, members).ok());

  // 1. Elect and replicate (two groups over the same per-peer streams).
  const NodeId first_leader = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(first_leader, NodeId(0));
  ProposeN(kMeta, "a", 20);
  ProposeN(kPart, "p", 10);
  ExpectApplied(kMeta, {1, 2, 3}, 20);
  ExpectApplied(kPart, {1, 2, 3}, 10);

  // 2. Kill the leader: the other two elect a new one and keep committing.
  const NodeId dead = cluster_->AwaitLeader(kMeta, kWait);
  cluster_->StopNode(dead);
  std::vector<uint64_t> alive;
  for (uint64_t id : {1, 2, 3}) {
    if (NodeId(id) != dead) alive.push_back(id);
  }
  const NodeId second_leader = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(second_leader, NodeId(0));
  ASSERT_NE(second_leader, dead);
  ProposeN(kMeta, "b", 20);
  ExpectApplied(kMeta, alive, 40);

  // 3. Restart the dead node from its directory: it recovers and catches up.
  ASSERT_TRUE(Start(dead.value()).ok());
  ExpectApplied(kMeta, {1, 2, 3}, 40);
  ExpectApplied(kPart, {1, 2, 3}, 10);

  // 4. Add node 4 as a learner. While it is not running it lags by 40+ entries, so the leader
  // refuses to promote it; started, it catches up and the safe path promotes it.
  auto r = cluster_->ChangeMembership(kMeta, {raft::ConfChangeType::kAddLearner, NodeId(4), {}},
                                      kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  const NodeId leader4 = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(leader4, NodeId(0));
  r = cluster_->node(leader4)->PromoteLearner(kMeta, NodeId(4)).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  ASSERT_TRUE(Start(4).ok());
  raft::ConfState joining{members, {NodeId(4)}};
  ASSERT_TRUE(cluster_->node(NodeId(4))->CreateGroup(kMeta, joining).ok());
  ExpectApplied(kMeta, {1, 2, 3, 4}, 40);
  r = cluster_->PromoteLearner(kMeta, NodeId(4), kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  for (uint64_t id : {1, 2, 3, 4}) ASSERT_TRUE(AwaitVoters(id, kMeta, 4, 0)) << id;
  ProposeN(kMeta, "c", 10);
  ExpectApplied(kMeta, {1, 2, 3, 4}, 50);

  // 5. Remove a member that is not the leader; the remaining three keep committing.
  const NodeId leader = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(leader, NodeId(0));
  NodeId removed(0);
  for (uint64_t id : {1, 2, 3, 4}) {
    if (NodeId(id) != leader) removed = NodeId(id);
  }
  r = cluster_->ChangeMembership(kMeta, {raft::ConfChangeType::kRemoveNode, removed, {}}, kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<uint64_t> remaining;
  for (uint64_t id : {1, 2, 3, 4}) {
    if (NodeId(id) != removed) remaining.push_back(id);
  }
  for (uint64_t id : remaining) ASSERT_TRUE(AwaitVoters(id, kMeta, 3, 0)) << id;
  cluster_->StopNode(removed);
  ProposeN(kMeta, "d", 10);
  ExpectApplied(kMeta, remaining, 60);

  // The transport really ran over gRPC and the nodes snapshotted along the way.
  EXPECT_GT(cluster_->transport(leader)->stats().messages_sent, 0u);
  EXPECT_GT(cluster_->node(leader)->stats().snapshots_taken, 0u);
}

// The leader is crashed hard (kill -9 semantics: silent at once, its directory left as the crash
// image) while proposals are in flight. The others keep committing; restarted from its
// directory it catches up; every proposal that was acknowledged is applied everywhere once.
TEST_F(RaftClusterTest, HardCrashedLeaderRecoversFromItsDirectory) {
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(Start(id).ok());
  ASSERT_TRUE(cluster_->CreateGroup(kMeta, {NodeId(1), NodeId(2), NodeId(3)}).ok());
  ProposeN(kMeta, "a", 10);
  const NodeId victim = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(victim, NodeId(0));
  std::vector<std::pair<std::string, std::future<absl::StatusOr<LogIndex>>>> inflight;
  for (int i = 0; i < 50; ++i) {
    const std::string data = "burst" + std::to_string(i);
    inflight.emplace_back(data, cluster_->node(victim)->Propose(kMeta, data));
  }
  // Crash once some of the burst is acknowledged and the rest is still in flight.
  ASSERT_EQ(inflight[9].second.wait_for(kWait), std::future_status::ready);
  ASSERT_TRUE(cluster_->CrashNode(victim).ok());
  std::set<std::string> acked;
  for (auto& [data, f] : inflight) {
    absl::StatusOr<LogIndex> res = f.get();  // the crash completed every one of them
    if (res.ok()) acked.insert(data);
  }
  std::vector<uint64_t> alive;
  for (uint64_t id : {1, 2, 3}) {
    if (NodeId(id) != victim) alive.push_back(id);
  }
  const NodeId next = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(next, NodeId(0));
  ASSERT_NE(next, victim);
  ProposeN(kMeta, "b", 10);

  ASSERT_TRUE(Start(victim.value()).ok());
  // All three converge on one history (how many burst entries made it is up to the crash).
  ASSERT_TRUE(sms_[alive[0]]->AwaitCount(kMeta, 20, kWait));
  // Every node applies up to the last proposal's own index. (Not `next`'s commit index: the
  // restarted node's return may move the leadership, and a follower's commit index lags.)
  absl::StatusOr<LogIndex> c0 = cluster_->Propose(kMeta, "c0", kWait);
  ASSERT_TRUE(c0.ok()) << c0.status();
  const LogIndex last = *c0;
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_TRUE(cluster_->node(NodeId(id))->AwaitStatus(
        kMeta, [&](const GroupStatus& s) { return s.applied >= last; }, kWait))
        << "node " << id;
  }
  const auto history = sms_[alive[0]]->applied(kMeta);
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_TRUE(sms_[id]->AwaitCount(kMeta, history.size(), kWait)) << "node " << id;
    const auto got = sms_[id]->applied(kMeta);
    const size_t n = std::min(got.size(), history.size());
    size_t at = 0;
    while (at < n && got[at] == history[at]) ++at;
    EXPECT_TRUE(got == history)
        << "node " << id << (NodeId(id) == victim ? " (the crashed leader)" : "") << " has "
        << got.size() << " entries, node " << alive[0] << " " << history.size()
        << "; first difference at position " << at << ": "
        << (at < got.size() ? ::testing::PrintToString(got[at]) : "none") << " vs "
        << (at < history.size() ? ::testing::PrintToString(history[at]) : "none");
  }
  std::set<std::string> applied;
  for (const auto& a : history) {
    EXPECT_TRUE(applied.insert(a.data).second) << "applied twice: " << a.data;
  }
  EXPECT_GE(acked.size(), 10u);
  for (const std::string& data : acked) EXPECT_TRUE(applied.count(data)) << "lost " << data;
  EXPECT_TRUE(applied.count("b9"));
}

// Removing the current leader: it commits its own removal and steps down; the remaining voters
// elect a leader among themselves and keep committing.
TEST_F(RaftClusterTest, RemovingTheLeaderKeepsCommitting) {
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(Start(id).ok());
  ASSERT_TRUE(cluster_->CreateGroup(kMeta, {NodeId(1), NodeId(2), NodeId(3)}).ok());
  ProposeN(kMeta, "a", 10);
  const NodeId old_leader = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(old_leader, NodeId(0));
  auto r = cluster_->node(old_leader)
               ->ProposeConfChange(kMeta, {raft::ConfChangeType::kRemoveNode, old_leader, {}})
               .get();
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<uint64_t> remaining;
  for (uint64_t id : {1, 2, 3}) {
    if (NodeId(id) != old_leader) remaining.push_back(id);
  }
  for (uint64_t id : remaining) ASSERT_TRUE(AwaitVoters(id, kMeta, 2, 0)) << id;
  EXPECT_TRUE(cluster_->node(old_leader)->AwaitStatus(
      kMeta, [](const GroupStatus& s) { return s.state != raft::StateType::kLeader; }, kWait));
  cluster_->StopNode(old_leader);
  const NodeId next = cluster_->AwaitLeader(kMeta, kWait);
  ASSERT_NE(next, NodeId(0));
  ASSERT_NE(next, old_leader);
  ProposeN(kMeta, "b", 10);
  ExpectApplied(kMeta, remaining, 20);
}

}  // namespace
}  // namespace sluice
