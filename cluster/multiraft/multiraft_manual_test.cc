// MultiRaft without a driver thread: the test is the driver (RunOnce), time is a ManualClock,
// messages go through the in-process transport (which only fills the receiver's inbox), and
// the incarnation and election timeouts come from seeds. Every loop is bounded by a step count.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/multiraft/testing/recording_state_machine.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/local_transport.h"
#include "gtest/gtest.h"

namespace sluice::multiraft {
namespace {

constexpr GroupId kGroup(1);
constexpr int kStepsMax = 20'000;  // simulated milliseconds per wait

struct Node {
  std::unique_ptr<raftstore::RocksDbLogStore> store;
  std::unique_ptr<transport::LocalTransport> transport;
  RecordingStateMachine sm;
  std::unique_ptr<MultiRaft> mr;
};

class ManualDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = std::string(tmp ? tmp : "/tmp") + "/multiraft_manual_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { StopAll(); }

  void StartCluster(const std::string& dir, uint64_t seed_base) {
    raft::ConfState cs{{NodeId(1), NodeId(2), NodeId(3)}, {}};
    for (uint64_t id = 1; id <= 3; ++id) {
      auto n = std::make_unique<Node>();
      auto store = raftstore::RocksDbLogStore::Open(dir + "/n" + std::to_string(id));
      ASSERT_TRUE(store.ok()) << store.status();
      n->store = std::move(*store);
      n->transport = std::make_unique<transport::LocalTransport>(&net_, NodeId(id));
      MultiRaftOptions o;
      o.self = NodeId(id);
      o.tick_ms = 10;
      o.election_tick = 10;
      o.proposal_timeout_ms = proposal_timeout_ms_;
      o.clock = &clock_;
      o.seed = seed_base + id;
      o.own_thread = false;
      o.inbox_requests_max = inbox_requests_max_;
      o.forward_proposals = forward_proposals_;
      n->mr = std::make_unique<MultiRaft>(o, n->store.get(), n->transport.get(), &n->sm);
      ASSERT_TRUE(n->transport->Start(n->mr.get()).ok());
      ASSERT_TRUE(n->mr->Start().ok());
      ASSERT_TRUE(n->mr->CreateGroup(kGroup, cs).ok());
      nodes_.push_back(std::move(n));
    }
  }
  void StopAll() {
    for (auto& n : nodes_) {
      n->transport->Stop();
      n->mr->Stop();
    }
    nodes_.clear();
  }

  // One simulated millisecond: every node takes one turn.
  void Step() {
    clock_.AdvanceMs(1);
    for (auto& n : nodes_) n->mr->RunOnce();
  }
  // Steps until a node leads kGroup; its index in nodes_, or nullopt.
  std::optional<size_t> StepUntilLeader(int* steps) {
    for (*steps = 0; *steps < kStepsMax; ++*steps) {
      Step();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        std::optional<GroupStatus> s = nodes_[i]->mr->Status(kGroup);
        if (s && s->state == raft::StateType::kLeader) return i;
      }
    }
    return std::nullopt;
  }
  template <typename T>
  bool StepUntilReady(std::future<T>& f) {
    for (int i = 0; i < kStepsMax; ++i) {
      if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return true;
      Step();
    }
    return false;
  }

  std::string root_;
  uint64_t inbox_requests_max_ = 200'000;
  bool forward_proposals_ = false;
  int64_t proposal_timeout_ms_ = 50;  // below the election timeout (100 ms)
  ManualClock clock_{1'000};
  transport::LocalNetwork net_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(ManualDriverTest, ElectsAndCommitsWithoutThreads) {
  StartCluster(root_, 100);
  int steps = 0;
  std::optional<size_t> leader = StepUntilLeader(&steps);
  ASSERT_TRUE(leader.has_value());
  // Nothing happens between turns: without RunOnce the proposal is only in the inbox.
  auto f = nodes_[*leader]->mr->Propose(kGroup, "x");
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_TRUE(StepUntilReady(f));
  absl::StatusOr<LogIndex> r = f.get();
  ASSERT_TRUE(r.ok()) << r.status();
  // Followers apply it a few turns later (the commit index reaches them with the next append).
  for (int i = 0; i < 100; ++i) Step();
  for (auto& n : nodes_) {
    std::vector<RecordingStateMachine::Applied> a = n->sm.applied(kGroup);
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a.back().data, "x");
    EXPECT_EQ(a.back().index, *r);
  }
  // A follower refuses (no forwarding), in the next turn.
  const size_t follower = (*leader + 1) % nodes_.size();
  auto refused = nodes_[follower]->mr->Propose(kGroup, "y");
  ASSERT_TRUE(StepUntilReady(refused));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.get().status()));
}

// A follower that learns of a new leader and forwards a proposal to it in the same turn keeps
// that proposal: only what went to the old leader has an unknown outcome.
TEST_F(ManualDriverTest, ProposalForwardedToTheNewLeaderSurvivesTheLeaderChange) {
  forward_proposals_ = true;
  StartCluster(root_, 300);
  int steps = 0;
  std::optional<size_t> leader = StepUntilLeader(&steps);
  ASSERT_TRUE(leader.has_value());
  const size_t follower = (*leader + 1) % 3, next = (*leader + 2) % 3;
  auto to_old = nodes_[follower]->mr->Propose(kGroup, "to-old-leader");
  ASSERT_TRUE(StepUntilReady(to_old));
  ASSERT_TRUE(to_old.get().ok());
  // Leadership moves to `next` while `follower` takes no turn, so the new leader's first
  // messages wait in its inbox.
  nodes_[*leader]->mr->TransferLeader(kGroup, NodeId(next + 1));
  bool moved = false;
  for (int i = 0; i < kStepsMax && !moved; ++i) {
    clock_.AdvanceMs(1);
    nodes_[*leader]->mr->RunOnce();
    nodes_[next]->mr->RunOnce();
    std::optional<GroupStatus> s = nodes_[next]->mr->Status(kGroup);
    moved = s && s->state == raft::StateType::kLeader;
  }
  ASSERT_TRUE(moved);
  // One turn: the follower steps the new leader's messages, then forwards the proposal to it.
  auto to_new = nodes_[follower]->mr->Propose(kGroup, "to-new-leader");
  nodes_[follower]->mr->RunOnce();
  EXPECT_EQ(nodes_[follower]->mr->Status(kGroup)->leader, NodeId(next + 1));
  ASSERT_TRUE(StepUntilReady(to_new));
  absl::StatusOr<LogIndex> r = to_new.get();
  ASSERT_TRUE(r.ok()) << r.status();
  for (int i = 0; i < 100; ++i) Step();
  EXPECT_EQ(nodes_[follower]->sm.applied(kGroup).back().data, "to-new-leader");
}

// With forwarding, proposals made before any leader is known wait on the driver and go, in
// the order they were made, once one is; those made later go after them.
TEST_F(ManualDriverTest, ProposalsWithoutALeaderWaitAndKeepTheirOrder) {
  forward_proposals_ = true;
  proposal_timeout_ms_ = 10'000;
  StartCluster(root_, 500);
  std::vector<std::future<absl::StatusOr<LogIndex>>> early;
  for (const char* d : {"a", "b", "c"}) early.push_back(nodes_[0]->mr->Propose(kGroup, d));
  nodes_[0]->mr->RunOnce();
  EXPECT_EQ(early[0].wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(nodes_[0]->mr->stats().proposals_held, 0u);  // published at the next turn
  nodes_[0]->mr->RunOnce();
  EXPECT_EQ(nodes_[0]->mr->stats().proposals_held_now, 3u);
  int steps = 0;
  ASSERT_TRUE(StepUntilLeader(&steps).has_value());
  auto late = nodes_[0]->mr->Propose(kGroup, "d");
  ASSERT_TRUE(StepUntilReady(late));
  ASSERT_TRUE(late.get().ok());
  for (auto& f : early) {
    ASSERT_TRUE(StepUntilReady(f));
    ASSERT_TRUE(f.get().ok());
  }
  std::vector<std::string> order;
  for (const auto& a : nodes_[0]->sm.applied(kGroup)) order.push_back(a.data);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
  Step();
  EXPECT_EQ(nodes_[0]->mr->stats().proposals_held, 3u);
  EXPECT_EQ(nodes_[0]->mr->stats().proposals_held_now, 0u);
}

// A proposal that found no leader until its deadline fails FailedPrecondition: it was never
// proposed, so the caller may safely make it again.
TEST_F(ManualDriverTest, ProposalWithoutALeaderUntilItsDeadlineIsNotProposed) {
  forward_proposals_ = true;
  StartCluster(root_, 600);
  auto f = nodes_[0]->mr->Propose(kGroup, "x");
  for (int i = 0; i < 2 * proposal_timeout_ms_ &&
                  f.wait_for(std::chrono::seconds(0)) != std::future_status::ready; ++i) {
    clock_.AdvanceMs(1);
    nodes_[0]->mr->RunOnce();  // alone: no quorum, no leader
  }
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  absl::Status st = f.get().status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("not proposed"), std::string_view::npos) << st;
}

TEST_F(ManualDriverTest, SameSeedsReplayTheSameElection) {
  int steps_a = 0, steps_b = 0;
  StartCluster(root_ + "/a", 7);
  std::optional<size_t> leader_a = StepUntilLeader(&steps_a);
  ASSERT_TRUE(leader_a.has_value());
  const Term term_a = nodes_[*leader_a]->mr->Status(kGroup)->term;
  StopAll();
  clock_.SetMs(1'000);
  StartCluster(root_ + "/b", 7);
  std::optional<size_t> leader_b = StepUntilLeader(&steps_b);
  ASSERT_TRUE(leader_b.has_value());
  EXPECT_EQ(*leader_a, *leader_b);
  EXPECT_EQ(steps_a, steps_b);
  EXPECT_EQ(term_a, nodes_[*leader_b]->mr->Status(kGroup)->term);
}

TEST_F(ManualDriverTest, DeadlinesFollowTheInjectedClock) {
  StartCluster(root_, 300);
  int steps = 0;
  std::optional<size_t> leader = StepUntilLeader(&steps);
  ASSERT_TRUE(leader.has_value());
  net_.Isolate(NodeId(*leader + 1));
  auto f = nodes_[*leader]->mr->Propose(kGroup, "lost");
  nodes_[*leader]->mr->RunOnce();  // proposed: pending until proposal_timeout_ms (50)
  for (int i = 0; i < 49; ++i) Step();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  for (int i = 0; i < 20 && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
       ++i) {
    Step();
  }
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(f.get().status()));
}

TEST_F(ManualDriverTest, StopCancelsRequestsStillInTheInbox) {
  StartCluster(root_, 500);
  auto queued = nodes_[0]->mr->Propose(kGroup, "never proposed");
  auto read = nodes_[0]->mr->ReadIndex(kGroup);
  nodes_[0]->transport->Stop();
  nodes_[0]->mr->Stop();  // no RunOnce ran them: Stop completes them
  ASSERT_EQ(queued.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsCancelled(queued.get().status()));
  ASSERT_EQ(read.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsCancelled(read.get().status()));
}

TEST_F(ManualDriverTest, RequestsBeyondTheInboxLimitAreRefusedAtOnce) {
  inbox_requests_max_ = 2;
  StartCluster(root_, 700);
  auto a = nodes_[0]->mr->Propose(kGroup, "a");
  auto b = nodes_[0]->mr->ReadIndex(kGroup);
  auto c = nodes_[0]->mr->Propose(kGroup, "c");  // the inbox holds two requests
  ASSERT_EQ(c.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsResourceExhausted(c.get().status()));
  EXPECT_EQ(a.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  nodes_[0]->mr->RunOnce();  // takes them: room again
  EXPECT_EQ(nodes_[0]->mr->stats().requests_dropped_inbox_full, 1u);
  auto d = nodes_[0]->mr->Propose(kGroup, "d");
  EXPECT_EQ(d.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
}

}  // namespace
}  // namespace sluice::multiraft
