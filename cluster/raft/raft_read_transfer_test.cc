// ReadIndex (linearizable reads) and leadership transfer.
#include "cluster/raft/testing/network.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

using testing::N;
using testing::Network;
using testing::NetworkOptions;

absl::Status ReadIndex(Network& net, NodeId id, std::string ctx) {
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = id;
  m.to = id;
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(ctx)});
  absl::Status st = net.peer(id).Step(m);
  net.Send(net.peer(id).TakeMessages());
  return st;
}

TEST(ReadIndex, LeaderConfirmsWithHeartbeatQuorum) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  ASSERT_TRUE(ReadIndex(net, N(1), "r1").ok());
  std::vector<ReadState> rs = net.peer(N(1)).TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0], (ReadState{LogIndex(2), "r1"}));
}

TEST(ReadIndex, NoAnswerWithoutQuorum) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(1));
  ASSERT_TRUE(ReadIndex(net, N(1), "r1").ok());
  EXPECT_TRUE(net.peer(N(1)).TakeReadStates().empty());
  net.Recover();
  net.Tick(N(1), 1);  // the next heartbeat round carries the pending request
  EXPECT_EQ(net.peer(N(1)).TakeReadStates().size(), 1u);
}

TEST(ReadIndex, FollowerReadIsForwarded) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(ReadIndex(net, N(2), "from-2").ok());
  std::vector<ReadState> rs = net.peer(N(2)).TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0], (ReadState{LogIndex(1), "from-2"}));
}

TEST(ReadIndex, RefusedBeforeLeaderCommitsInItsTerm) {
  Network net(3);
  net.Ignore(MessageType::kApp);
  net.Campaign(N(1));
  ASSERT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  EXPECT_TRUE(IsProposalDropped(ReadIndex(net, N(1), "early")));
}

TEST(ReadIndex, LeaseBasedAnswersAtOnce) {
  MemoryStorage s(ConfState{{N(1), N(2), N(3)}, {}});
  SeededRng rng(1);
  Config c;
  c.id = N(1);
  c.storage = &s;
  c.rng = &rng;
  c.check_quorum = true;
  c.read_only_option = ReadOnlyOption::kLeaseBased;
  std::unique_ptr<Raft> r = *Raft::Create(c);
  r->BecomeCandidate();
  r->BecomeLeader();
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.from = N(2);
  resp.term = r->term();
  resp.index = LogIndex(1);
  ASSERT_TRUE(r->Step(resp).ok());
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = N(1);
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, "lease"});
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->TakeReadStates().size(), 1u);
}

void Transfer(Network& net, NodeId leader, NodeId to) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = to;
  m.to = leader;
  net.Send(m);
}

TEST(Transfer, ToUpToDateFollower) {
  Network net(3);
  net.Campaign(N(1));
  Transfer(net, N(1), N(2));
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kLeader);
  EXPECT_EQ(net.peer(N(2)).term(), Term(2));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
  EXPECT_EQ(net.peer(N(1)).lead(), N(2));
}

TEST(Transfer, CatchesUpLaggingFollowerFirst) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(3));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  net.Recover();
  Transfer(net, N(1), N(3));
  EXPECT_EQ(net.peer(N(3)).state(), StateType::kLeader);
}

TEST(Transfer, ProposalsDroppedDuringTransferAndAbortAfterTimeout) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(3));
  Transfer(net, N(1), N(3));
  EXPECT_EQ(net.peer(N(1)).lead_transferee(), N(3));
  EXPECT_TRUE(IsProposalDropped(net.Propose(N(1), "x")));
  net.Tick(N(1), 10);  // one election timeout
  EXPECT_EQ(net.peer(N(1)).lead_transferee(), kNoNode);
  EXPECT_TRUE(net.Propose(N(1), "x").ok());
}

TEST(Transfer, BypassesLeaderStickiness) {
  Network net(3, NetworkOptions{.pre_vote = true, .check_quorum = true});
  net.Campaign(N(1));
  Transfer(net, N(1), N(2));
  EXPECT_EQ(net.peer(N(2)).state(), StateType::kLeader);
}

TEST(Transfer, ToSelfOrNonMemberIgnored) {
  Network net(3);
  net.Campaign(N(1));
  Transfer(net, N(1), N(1));
  Transfer(net, N(1), N(9));
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  EXPECT_EQ(net.peer(N(1)).lead_transferee(), kNoNode);
}

TEST(Transfer, FollowerForwardsRequest) {
  Network net(3);
  net.Campaign(N(1));
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = N(3);
  m.to = N(2);
  net.Send(m);
  EXPECT_EQ(net.peer(N(3)).state(), StateType::kLeader);
}

}  // namespace
}  // namespace sluice::raft
