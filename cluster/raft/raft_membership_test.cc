// Membership changes (one at a time) and learners.
#include "cluster/raft/testing/network.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

using testing::N;
using testing::Network;
using testing::NetworkOptions;

TEST(Membership, AddLearnerThenPromote) {
  Network net(3);
  net.Campaign(N(1));
  net.ApplyAll();
  // The joining node starts with the membership it joins (itself as a learner).
  net.AddNode(N(4), ConfState{{N(1), N(2), N(3)}, {N(4)}});
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(4), ""}).ok());
  net.ApplyAll();
  ASSERT_TRUE(net.peer(N(1)).tracker().Find(N(4)) != nullptr);
  EXPECT_TRUE(net.peer(N(1)).tracker().Find(N(4))->is_learner);
  ASSERT_TRUE(net.Propose(N(1), "data").ok());
  EXPECT_EQ(net.peer(N(4)).log().committed(), net.peer(N(1)).log().committed());

  // A learner never campaigns.
  net.Tick(N(4), 100);
  EXPECT_EQ(net.peer(N(4)).state(), StateType::kFollower);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);

  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(4), ""}).ok());
  net.ApplyAll();
  EXPECT_TRUE(net.peer(N(1)).tracker().IsVoter(N(4)));
  EXPECT_FALSE(net.peer(N(4)).is_learner());
  EXPECT_TRUE(net.peer(N(4)).Promotable());
}

TEST(Membership, LearnersDoNotVoteOrCountForCommit) {
  Network net({N(1), N(2)}, {N(3)});
  net.Campaign(N(1));
  ASSERT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  // With voter 2 gone, the learner's ack must not commit anything.
  net.Isolate(N(2));
  ASSERT_TRUE(net.Propose(N(1), "x").ok());
  EXPECT_EQ(net.peer(N(3)).log().LastIndex(), LogIndex(2));
  EXPECT_EQ(net.peer(N(1)).log().committed(), LogIndex(1));
  // And a candidate cannot win with the learner's vote.
  net.Recover();
  net.Isolate(N(1));
  net.Campaign(N(2));
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kCandidate);  // voters {1,2}: needs 1's vote
}

TEST(Membership, OnlyOneChangePending) {
  Network net(3);
  net.Campaign(N(1));
  // A new leader's pending index covers its no-op: wait for it to apply.
  EXPECT_TRUE(IsProposalDropped(
      net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(4), ""})));
  net.ApplyAll();
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(4), ""}).ok());
  EXPECT_TRUE(IsProposalDropped(
      net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(5), ""})));
  net.ApplyAll();
  EXPECT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(5), ""}).ok());
}

TEST(Membership, RemoveNodeShrinksQuorum) {
  Network net(3);
  net.Campaign(N(1));
  net.ApplyAll();
  net.Isolate(N(3));
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kRemoveNode, N(3), ""}).ok());
  net.ApplyAll();
  EXPECT_EQ(net.peer(N(1)).tracker().GetConfState(), (ConfState{{N(1), N(2)}, {}}));
  // Now 1 and 2 are the whole group; 2 alone is not a quorum.
  net.Isolate(N(2));
  ASSERT_TRUE(net.Propose(N(1), "y").ok());
  const LogIndex c = net.peer(N(1)).log().committed();
  net.Recover();
  net.Isolate(N(3));
  net.Tick(N(1), 1);
  EXPECT_GT(net.peer(N(1)).log().committed(), c);
}

TEST(Membership, RemovedLeaderStepsDown) {
  Network net(3);
  net.Campaign(N(1));
  net.ApplyAll();
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kRemoveNode, N(1), ""}).ok());
  net.ApplyAll();
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
  EXPECT_FALSE(net.peer(N(1)).Promotable());
  net.Tick(N(2), 30);
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kLeader);
}

TEST(Membership, NoCampaignWithUnappliedConfChange) {
  Network net(3);
  net.Campaign(N(1));
  net.ApplyAll();
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddLearner, N(4), ""}).ok());
  // Committed on 2 but not applied there: 2 must not campaign until it applies the change.
  ASSERT_GE(net.peer(N(2)).log().committed(), LogIndex(2));
  net.Campaign(N(2));
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kFollower);
  net.ApplyAll();
  net.Campaign(N(2));
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kLeader);
}

// A learner that has not caught up is not promoted; once it has, it is.
TEST(Membership, LaggingLearnerIsNotPromoted) {
  NetworkOptions o;
  o.max_learner_lag_entries = 2;
  Network net({N(1), N(2), N(3)}, {N(4)}, o);
  net.Campaign(N(1));
  net.ApplyAll();
  net.Isolate(N(4));  // the learner falls behind
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.Propose(N(1), "x" + std::to_string(i)).ok());
  net.ApplyAll();
  const LogIndex last = net.peer(N(1)).log().LastIndex();
  ASSERT_LT(net.peer(N(1)).tracker().Find(N(4))->match.value() + 2, last.value());
  const absl::Status st = net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(4), ""});
  EXPECT_TRUE(IsProposalDropped(st)) << st;
  EXPECT_NE(st.message().find("not caught up"), std::string::npos) << st;
  EXPECT_EQ(net.peer(N(1)).log().LastIndex(), last);  // nothing was appended
  net.ApplyAll();
  EXPECT_FALSE(net.peer(N(1)).tracker().IsVoter(N(4)));

  // Reconnected, it catches up (the next heartbeat round) and may now be promoted.
  net.Recover();
  net.Tick(N(1), 1);
  ASSERT_EQ(net.peer(N(1)).tracker().Find(N(4))->match, last);
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(4), ""}).ok());
  net.ApplyAll();
  EXPECT_TRUE(net.peer(N(1)).tracker().IsVoter(N(4)));
  EXPECT_TRUE(net.peer(N(4)).Promotable());
}

// Within max_learner_lag_entries counts as caught up (a busy leader's last index moves on).
TEST(Membership, LearnerWithinLagIsPromoted) {
  NetworkOptions o;
  o.max_learner_lag_entries = 3;
  Network net({N(1), N(2), N(3)}, {N(4)}, o);
  net.Campaign(N(1));
  net.ApplyAll();
  net.Isolate(N(4));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(net.Propose(N(1), "x" + std::to_string(i)).ok());
  net.ApplyAll();
  ASSERT_EQ(net.peer(N(1)).tracker().Find(N(4))->match.value() + 3,
            net.peer(N(1)).log().LastIndex().value());
  ASSERT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(4), ""}).ok());
}

// A node that is not a learner cannot become a voter directly.
TEST(Membership, AddingANonMemberAsVoterIsRefused) {
  Network net(3);
  net.Campaign(N(1));
  net.ApplyAll();
  EXPECT_TRUE(IsProposalDropped(
      net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(4), ""})));
  // Re-adding an existing voter is a no-op change and allowed.
  EXPECT_TRUE(net.ProposeConfChange(N(1), {ConfChangeType::kAddNode, N(2), ""}).ok());
}

TEST(ConfChange, EncodeDecode) {
  ConfChange cc{ConfChangeType::kRemoveNode, N(77), "ctx"};
  absl::StatusOr<ConfChange> back = ConfChange::Decode(cc.Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, cc);
  EXPECT_FALSE(ConfChange::Decode("x").ok());
}

}  // namespace
}  // namespace sluice::raft
