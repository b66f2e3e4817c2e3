#include "cluster/raft/quorum.h"

#include "cluster/raft/tracker.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

NodeId N(uint64_t n) { return NodeId(n); }

TEST(Majority, CommittedIndex) {
  MajorityConfig c({N(1), N(2), N(3)});
  std::map<NodeId, LogIndex> m{{N(1), LogIndex(5)}, {N(2), LogIndex(3)}};
  auto acked = [&](NodeId id) -> std::optional<LogIndex> {
    auto it = m.find(id);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(c.CommittedIndex(acked), LogIndex(3));
  m[N(3)] = LogIndex(4);
  EXPECT_EQ(c.CommittedIndex(acked), LogIndex(4));
  MajorityConfig four({N(1), N(2), N(3), N(4)});
  EXPECT_EQ(four.CommittedIndex(acked), LogIndex(3));  // needs 3 of 4
  EXPECT_EQ(MajorityConfig().CommittedIndex(acked), LogIndex(0));
}

TEST(Majority, Vote) {
  MajorityConfig c({N(1), N(2), N(3)});
  EXPECT_EQ(c.Vote({{N(1), true}}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{N(1), true}, {N(2), true}}), VoteResult::kWon);
  EXPECT_EQ(c.Vote({{N(1), true}, {N(2), false}, {N(3), false}}), VoteResult::kLost);
  EXPECT_EQ(c.Vote({{N(1), true}, {N(9), true}}), VoteResult::kPending);  // non-voter ignored
}

TEST(Tracker, ConfChangesOneAtATime) {
  ProgressTracker t(8, 0);
  t.Restore(ConfState{{N(1), N(2), N(3)}, {}}, LogIndex(5));
  ASSERT_TRUE(t.ApplyConfChange({ConfChangeType::kAddLearner, N(4), ""}, LogIndex(7)).ok());
  EXPECT_FALSE(t.IsVoter(N(4)));
  EXPECT_TRUE(t.Find(N(4))->is_learner);
  EXPECT_EQ(t.Find(N(4))->next, LogIndex(7));
  t.Find(N(4))->match = LogIndex(6);
  ASSERT_TRUE(t.ApplyConfChange({ConfChangeType::kAddNode, N(4), ""}, LogIndex(9)).ok());
  EXPECT_TRUE(t.IsVoter(N(4)));
  EXPECT_EQ(t.Find(N(4))->match, LogIndex(6));  // promotion keeps progress
  ASSERT_TRUE(t.ApplyConfChange({ConfChangeType::kRemoveNode, N(2), ""}, LogIndex(9)).ok());
  EXPECT_EQ(t.Find(N(2)), nullptr);
  EXPECT_EQ(t.GetConfState(), (ConfState{{N(1), N(3), N(4)}, {}}));
  EXPECT_FALSE(t.ApplyConfChange({ConfChangeType::kAddNode, N(0), ""}, LogIndex(9)).ok());
}

TEST(Tracker, LearnersDoNotCountTowardQuorum) {
  ProgressTracker t(8, 0);
  t.Restore(ConfState{{N(1)}, {N(2), N(3)}}, LogIndex(1));
  t.Find(N(1))->match = LogIndex(1);
  t.Find(N(2))->match = LogIndex(9);
  t.Find(N(3))->match = LogIndex(9);
  EXPECT_EQ(t.Committed(), LogIndex(1));
  t.RecordVote(N(2), true);
  EXPECT_EQ(t.TallyVotes().result, VoteResult::kPending);
}

}  // namespace
}  // namespace sluice::raft
