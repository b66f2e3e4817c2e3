// RawNode: the Ready/Advance cycle and restart from storage.
#include "cluster/raft/rawnode.h"

#include "base/check.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

struct Node {
  explicit Node(ConfState cs) : storage(std::move(cs)) {}
  std::unique_ptr<RawNode> Start(LogIndex applied = LogIndex(0)) {
    Config c;
    c.id = NodeId(1);
    c.storage = &storage;
    c.rng = &rng;
    c.applied = applied;
    return *RawNode::Create(c);
  }
  // Runs the Ready loop to quiescence; returns applied data.
  std::vector<std::string> Drain(RawNode& n) {
    std::vector<std::string> applied;
    while (n.HasReady()) {
      Ready rd = n.GetReady();
      EXPECT_FALSE(n.HasReady());  // one Ready at a time
      if (rd.snapshot) SLUICE_CHECK_OK(storage.ApplySnapshot(*rd.snapshot));
      storage.Append(rd.entries);
      if (rd.hard_state) storage.SetHardState(*rd.hard_state);
      for (const Entry& e : rd.committed_entries) {
        if (!e.data.empty()) applied.push_back(e.data);
      }
      n.Advance(rd);
    }
    return applied;
  }
  MemoryStorage storage;
  SeededRng rng{1};
};

TEST(RawNode, SingleNodeReadyCycle) {
  Node node(ConfState{{NodeId(1)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  EXPECT_FALSE(n->HasReady());
  ASSERT_TRUE(n->Campaign().ok());
  ASSERT_TRUE(n->HasReady());
  Ready rd = n->GetReady();
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->raft_state, StateType::kLeader);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, Term(1));
  EXPECT_TRUE(rd.must_sync);
  ASSERT_EQ(rd.entries.size(), 1u);
  node.storage.Append(rd.entries);
  node.storage.SetHardState(*rd.hard_state);
  n->Advance(rd);
  ASSERT_TRUE(n->Propose("hello").ok());
  EXPECT_EQ(node.Drain(*n), std::vector<std::string>{"hello"});
  EXPECT_EQ(n->raft().log().applied(), LogIndex(2));
}

TEST(RawNode, ProposeBatchAppendsEveryEntryInOrder) {
  Node node(ConfState{{NodeId(1)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  ASSERT_TRUE(n->Campaign().ok());
  node.Drain(*n);
  ASSERT_TRUE(n->ProposeBatch({"a", "b", "c"}).ok());
  ASSERT_TRUE(n->Propose("d").ok());
  EXPECT_EQ(node.Drain(*n), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(n->raft().log().applied(), LogIndex(5));  // the leader's empty entry, then four
}

TEST(RawNode, ProposeBatchWithoutLeaderFailsAsOne) {
  Node node(ConfState{{NodeId(1), NodeId(2), NodeId(3)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  absl::Status st = n->ProposeBatch({"a", "b"});
  EXPECT_TRUE(IsProposalDropped(st)) << st;
  EXPECT_EQ(node.Drain(*n), std::vector<std::string>{});
}

TEST(RawNode, RejectsLocalMessagesAndUnknownResponders) {
  Node node(ConfState{{NodeId(1), NodeId(2)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  Message m;
  m.type = MessageType::kHup;
  EXPECT_EQ(n->Step(m).code(), absl::StatusCode::kInvalidArgument);
  m.type = MessageType::kAppResp;
  m.from = NodeId(9);
  m.term = Term(1);
  EXPECT_EQ(n->Step(m).code(), absl::StatusCode::kNotFound);
}

TEST(RawNode, ProposeWithoutLeaderFails) {
  Node node(ConfState{{NodeId(1), NodeId(2)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  EXPECT_TRUE(IsProposalDropped(n->Propose("x")));
}

TEST(RawNode, RestartKeepsStateAndReplaysUnapplied) {
  Node node(ConfState{{NodeId(1)}, {}});
  {
    std::unique_ptr<RawNode> n = node.Start();
    ASSERT_TRUE(n->Campaign().ok());
    node.Drain(*n);
    ASSERT_TRUE(n->Propose("a").ok());
    ASSERT_TRUE(n->Propose("b").ok());
    node.Drain(*n);
  }
  // Restart, telling it only entry 2 ("a") was applied.
  std::unique_ptr<RawNode> n = node.Start(LogIndex(2));
  EXPECT_EQ(n->raft().term(), Term(1));
  EXPECT_EQ(n->raft().log().committed(), LogIndex(3));
  EXPECT_EQ(node.Drain(*n), std::vector<std::string>{"b"});
}

TEST(RawNode, ConfChangeThroughReady) {
  Node node(ConfState{{NodeId(1)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  ASSERT_TRUE(n->Campaign().ok());
  node.Drain(*n);
  ASSERT_TRUE(n->ProposeConfChange({ConfChangeType::kAddLearner, NodeId(2), ""}).ok());
  Ready rd = n->GetReady();
  node.storage.Append(rd.entries);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  ASSERT_EQ(rd.committed_entries[0].type, EntryType::kConfChange);
  ConfState cs = n->ApplyConfChange(*ConfChange::Decode(rd.committed_entries[0].data));
  EXPECT_EQ(cs, (ConfState{{NodeId(1)}, {NodeId(2)}}));
  n->Advance(rd);
}

TEST(RawNode, ReadIndexSingleNode) {
  Node node(ConfState{{NodeId(1)}, {}});
  std::unique_ptr<RawNode> n = node.Start();
  ASSERT_TRUE(n->Campaign().ok());
  node.Drain(*n);
  ASSERT_TRUE(n->ReadIndex("ctx").ok());
  ASSERT_TRUE(n->HasReady());
  Ready rd = n->GetReady();
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0].request_ctx, "ctx");
  n->Advance(rd);
}

}  // namespace
}  // namespace sluice::raft
