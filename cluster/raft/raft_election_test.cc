// Elections, votes, terms, pre-vote and check-quorum.
#include "cluster/raft/testing/network.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

using testing::N;
using testing::Network;
using testing::NetworkOptions;

TEST(Election, CampaignWinsWithMajority) {
  Network net(3);
  net.Campaign(N(1));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  EXPECT_EQ(net.peer(N(1)).term(), Term(1));
  for (uint64_t i : {2, 3}) {
    EXPECT_EQ(net.peer(N(i)).state(), StateType::kFollower);
    EXPECT_EQ(net.peer(N(i)).lead(), N(1));
    EXPECT_EQ(net.peer(N(i)).vote(), N(1));
  }
}

TEST(Election, SingleNodeWinsAtOnce) {
  Network net(1);
  net.Campaign(N(1));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
}

TEST(Election, NoQuorumStaysCandidate) {
  Network net(5);
  net.Isolate(N(1));
  net.Cut(N(2), N(1));
  net.Campaign(N(1));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kCandidate);
  EXPECT_EQ(net.peer(N(1)).term(), Term(1));
}

TEST(Election, MajorityRejectionMakesCandidateFollower) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "x").ok());
  // Node 3 misses entry 2, then campaigns: 1 and 2 reject (stale log) and it steps down.
  net.Isolate(N(3));
  ASSERT_TRUE(net.Propose(N(1), "y").ok());
  net.Recover();
  net.Cut(N(1), N(2));  // keep 1's heartbeats from interfering
  net.Campaign(N(3));
  EXPECT_EQ(net.peer(N(3)).state(), StateType::kFollower);
  EXPECT_EQ(net.peer(N(3)).term(), Term(2));
}

TEST(Election, VoteRefusedForStaleLog) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(3));
  ASSERT_TRUE(net.Propose(N(1), "only on 1 and 2").ok());
  net.Recover();
  net.ClearDelivered();
  // 3's log is behind: neither 1 nor 2 may vote for it.
  net.Isolate(N(1));
  net.Recover();
  Message hup;
  hup.type = MessageType::kHup;
  hup.from = hup.to = N(3);
  net.Cut(N(1), N(3));
  net.Send(hup);
  bool saw_reject = false;
  for (const Message& m : net.delivered()) {
    if (m.type == MessageType::kVoteResp && m.from == N(2)) {
      EXPECT_TRUE(m.reject);
      saw_reject = true;
    }
  }
  EXPECT_TRUE(saw_reject);
  EXPECT_NE(net.peer(N(3)).state(), StateType::kLeader);
}

TEST(Election, OneVotePerTerm) {
  Network net(3);
  // 2 votes for 1 in term 1; a later request from 3 for the same term is refused.
  Message v;
  v.type = MessageType::kVote;
  v.from = N(1);
  v.to = N(2);
  v.term = Term(1);
  ASSERT_TRUE(net.peer(N(2)).Step(v).ok());
  EXPECT_EQ(net.peer(N(2)).vote(), N(1));
  v.from = N(3);
  net.peer(N(2)).TakeMessages();
  ASSERT_TRUE(net.peer(N(2)).Step(v).ok());
  std::vector<Message> out = net.peer(N(2)).TakeMessages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].reject);
  EXPECT_EQ(net.peer(N(2)).vote(), N(1));
}

TEST(Election, HigherTermDemotesLeader) {
  Network net(3);
  net.Campaign(N(1));
  Message app;
  app.type = MessageType::kHeartbeat;
  app.from = N(2);
  app.to = N(1);
  app.term = Term(5);
  ASSERT_TRUE(net.peer(N(1)).Step(app).ok());
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
  EXPECT_EQ(net.peer(N(1)).term(), Term(5));
  EXPECT_EQ(net.peer(N(1)).lead(), N(2));
}

TEST(Election, StaleTermMessagesIgnored) {
  Network net(3);
  net.Campaign(N(1));
  net.Campaign(N(2));  // term 2
  ASSERT_EQ(net.peer(N(2)).state(), StateType::kLeader);
  Message app;
  app.type = MessageType::kApp;
  app.from = N(1);
  app.to = N(3);
  app.term = Term(1);
  app.entries.push_back(Entry{Term(1), LogIndex(3), EntryType::kNormal, "stale"});
  app.index = LogIndex(2);
  app.log_term = Term(1);
  const LogIndex before = net.peer(N(3)).log().LastIndex();
  ASSERT_TRUE(net.peer(N(3)).Step(app).ok());
  EXPECT_EQ(net.peer(N(3)).log().LastIndex(), before);
  EXPECT_EQ(net.peer(N(3)).lead(), N(2));
}

TEST(Election, RandomizedTimeoutInRange) {
  Network net(1, NetworkOptions{.election_tick = 10});
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    net.peer(N(1)).BecomeFollower(Term(i + 1), kNoNode);
    const int t = net.peer(N(1)).randomized_election_timeout();
    EXPECT_GE(t, 10);
    EXPECT_LT(t, 20);
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 5u);
}

TEST(Election, FollowerTimesOutAndCampaigns) {
  Network net(3);
  net.Tick(N(1), 2 * 10);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
}

TEST(PreVote, PartitionedNodeDoesNotBumpTermOnReturn) {
  Network net(3, NetworkOptions{.pre_vote = true, .check_quorum = true});
  net.Campaign(N(1));
  ASSERT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  net.Isolate(N(3));
  net.Tick(N(3), 100);  // many election timeouts alone
  EXPECT_EQ(net.peer(N(3)).term(), Term(1));
  EXPECT_EQ(net.peer(N(3)).state(), StateType::kPreCandidate);
  net.Recover();
  net.Tick(N(3), 30);
  net.Tick(N(1), 5);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  EXPECT_EQ(net.peer(N(1)).term(), Term(1));
  EXPECT_EQ(net.peer(N(3)).lead(), N(1));
}

TEST(PreVote, WithoutPreVoteReturningNodeDisruptsLeader) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(3));
  net.Tick(N(3), 100);
  EXPECT_GT(net.peer(N(3)).term(), Term(1));
  net.Recover();
  net.Tick(N(3), 20);  // its next vote request carries the higher term
  EXPECT_NE(net.peer(N(1)).state(), StateType::kLeader);
}

TEST(PreVote, PreCandidateBecomesLeaderWhenQuorumAgrees) {
  Network net(3, NetworkOptions{.pre_vote = true});
  net.Campaign(N(1));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  EXPECT_EQ(net.peer(N(1)).term(), Term(1));
}

TEST(PreVote, PreVoteDoesNotChangeVoterTerm) {
  Network net(3, NetworkOptions{.pre_vote = true});
  net.Isolate(N(1));
  net.Cut(N(1), N(2));
  Message pv;
  pv.type = MessageType::kPreVote;
  pv.from = N(1);
  pv.to = N(2);
  pv.term = Term(7);
  ASSERT_TRUE(net.peer(N(2)).Step(pv).ok());
  EXPECT_EQ(net.peer(N(2)).term(), Term(0));
  std::vector<Message> out = net.peer(N(2)).TakeMessages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject);
  EXPECT_EQ(out[0].term, Term(7));
}

TEST(CheckQuorum, IsolatedLeaderStepsDown) {
  Network net(3, NetworkOptions{.check_quorum = true});
  net.Campaign(N(1));
  net.Isolate(N(1));
  // The followers answered the initial appends, so the first check passes; the second cannot.
  net.Tick(N(1), 10);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  net.Tick(N(1), 10);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
}

TEST(CheckQuorum, LeaderWithQuorumStays) {
  Network net(3, NetworkOptions{.check_quorum = true});
  net.Campaign(N(1));
  net.Isolate(N(3));
  net.Tick(N(1), 50);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
}

TEST(CheckQuorum, FollowerWithLiveLeaderIgnoresVotes) {
  Network net(3, NetworkOptions{.check_quorum = true});
  net.Campaign(N(1));
  Message v;
  v.type = MessageType::kVote;
  v.from = N(3);
  v.to = N(2);
  v.term = Term(2);
  v.index = LogIndex(10);
  v.log_term = Term(2);
  ASSERT_TRUE(net.peer(N(2)).Step(v).ok());
  EXPECT_EQ(net.peer(N(2)).term(), Term(1));  // not even the term moved
  EXPECT_TRUE(net.peer(N(2)).TakeMessages().empty());
  // Once the leader has been silent for an election timeout, the vote counts.
  for (int i = 0; i < 10; ++i) net.peer(N(2)).Tick();
  ASSERT_TRUE(net.peer(N(2)).Step(v).ok());
  EXPECT_EQ(net.peer(N(2)).term(), Term(2));
}

TEST(CheckQuorum, StaleLeaderLearnsNewTermFromAppResp) {
  Network net(3, NetworkOptions{.pre_vote = true, .check_quorum = true});
  net.Campaign(N(1));
  net.Isolate(N(1));
  for (int i = 0; i < 40; ++i) {
    net.Tick(N(2));
    net.Tick(N(3));
  }
  const bool new_leader = net.peer(N(2)).state() == StateType::kLeader ||
                          net.peer(N(3)).state() == StateType::kLeader;
  ASSERT_TRUE(new_leader);
  // Node 1 did not tick: it still believes it leads term 1. Its next heartbeat is answered
  // with the new term (followers would otherwise ignore it forever), and it steps down.
  ASSERT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  net.Recover();
  net.ClearDelivered();
  net.Tick(N(1), 1);
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
  EXPECT_EQ(net.peer(N(1)).term(), Term(2));
}

}  // namespace
}  // namespace sluice::raft
