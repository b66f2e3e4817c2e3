// Log replication: commit rules, conflict truncation, backtracking, flow control, limits.
#include "base/check.h"
#include "cluster/raft/testing/network.h"
#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

using testing::N;
using testing::Network;
using testing::NetworkOptions;

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{Term(term), LogIndex(index), EntryType::kNormal, std::move(data)};
}

std::vector<Entry> AllEntries(const Raft& r) {
  absl::StatusOr<std::vector<Entry>> ents = r.log().EntriesFrom(r.log().FirstIndex(), kNoLimit);
  SLUICE_CHECK_OK(ents.status());
  return *ents;
}

TEST(Replication, ProposalsCommitEverywhere) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  ASSERT_TRUE(net.Propose(N(1), "b").ok());
  for (uint64_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(net.peer(N(i)).log().committed(), LogIndex(3)) << i;
    EXPECT_EQ(AllEntries(net.peer(N(i))), AllEntries(net.peer(N(1))));
  }
}

TEST(Replication, FollowerForwardsProposal) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(2), "via 2").ok());
  EXPECT_EQ(net.peer(N(3)).log().committed(), LogIndex(2));
  EXPECT_EQ(AllEntries(net.peer(N(3))).back().data, "via 2");
}

TEST(Replication, ProposalWithoutLeaderDropped) {
  Network net(3);
  absl::Status st = net.Propose(N(1), "x");
  EXPECT_TRUE(IsProposalDropped(st)) << st;
}

TEST(Replication, ConflictingUncommittedSuffixIsTruncated) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "committed").ok());
  // 1 is cut off and accepts proposals it can never commit.
  net.Isolate(N(1));
  ASSERT_TRUE(net.Propose(N(1), "lost-1").ok());
  ASSERT_TRUE(net.Propose(N(1), "lost-2").ok());
  EXPECT_EQ(net.peer(N(1)).log().LastIndex(), LogIndex(4));
  EXPECT_EQ(net.peer(N(1)).log().committed(), LogIndex(2));
  // 2 wins term 2 and commits its own entries.
  net.Campaign(N(2));
  ASSERT_TRUE(net.Propose(N(2), "new").ok());
  net.Recover();
  net.Tick(N(2), 1);  // heartbeat: 1 steps down and is probed back to index 2
  EXPECT_EQ(net.peer(N(1)).state(), StateType::kFollower);
  EXPECT_EQ(AllEntries(net.peer(N(1))), AllEntries(net.peer(N(2))));
  EXPECT_EQ(net.peer(N(1)).log().committed(), LogIndex(4));
  for (const Entry& e : AllEntries(net.peer(N(1)))) EXPECT_NE(e.data.substr(0, 4), "lost");
}

TEST(Replication, LeaderOnlyCommitsCurrentTermEntriesByCounting) {
  // Node 1's storage holds entries of terms 1 and 2, uncommitted; it becomes leader of term 3.
  MemoryStorage s(ConfState{{N(1), N(2), N(3)}, {}});
  s.Append({E(1, 1), E(2, 2)});
  s.SetHardState(HardState{Term(2), kNoNode, LogIndex(0)});
  SeededRng rng(1);
  Config c;
  c.id = N(1);
  c.storage = &s;
  c.rng = &rng;
  std::unique_ptr<Raft> r = *Raft::Create(c);
  r->BecomeCandidate();
  r->BecomeLeader();  // appends the empty entry 3 at term 3
  r->TakeMessages();
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.from = N(2);
  resp.to = N(1);
  resp.term = Term(3);
  resp.index = LogIndex(2);
  ASSERT_TRUE(r->Step(resp).ok());
  // A majority holds entry 2, but it is from term 2: counting replicas must not commit it.
  EXPECT_EQ(r->log().committed(), LogIndex(0));
  resp.index = LogIndex(3);
  ASSERT_TRUE(r->Step(resp).ok());
  EXPECT_EQ(r->log().committed(), LogIndex(3));  // entries 1-2 commit with entry 3
}

TEST(Replication, FastBacktrackingSkipsWholeTerms) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "base").ok());
  // 3 leads term 2 alone and piles up 50 uncommitted entries.
  net.Isolate(N(3));
  net.peer(N(3)).BecomeCandidate();
  net.peer(N(3)).BecomeLeader();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(net.Propose(N(3), "junk").ok());
  // Meanwhile 1 and 2 move on in term 3 with a few entries.
  net.peer(N(1)).BecomeFollower(Term(2), kNoNode);
  net.Campaign(N(1));
  ASSERT_EQ(net.peer(N(1)).state(), StateType::kLeader);
  ASSERT_GT(net.peer(N(1)).term(), Term(2));
  ASSERT_TRUE(net.Propose(N(1), "good").ok());
  net.Recover();
  net.ClearDelivered();
  net.Tick(N(1), 1);
  int rejections = 0;
  for (const Message& m : net.delivered()) {
    if (m.type == MessageType::kAppResp && m.from == N(3) && m.reject) ++rejections;
  }
  EXPECT_LE(rejections, 2);  // not ~50
  EXPECT_EQ(AllEntries(net.peer(N(3))), AllEntries(net.peer(N(1))));
}

TEST(Replication, InflightWindowLimitsPipelining) {
  Network net(3, NetworkOptions{.max_size_per_msg = 0, .max_inflight_msgs = 3});
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "warm").ok());  // followers now in replicate state
  net.Ignore(MessageType::kAppResp);
  net.ClearDelivered();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(net.Propose(N(1), "p").ok());
  int apps_to_2 = 0;
  for (const Message& m : net.delivered()) {
    if (m.type == MessageType::kApp && m.to == N(2)) ++apps_to_2;
  }
  EXPECT_EQ(apps_to_2, 3);
  EXPECT_TRUE(net.peer(N(1)).tracker().Find(N(2))->IsPaused());
  // Acks free the window and the rest flows.
  net.Recover();
  net.Tick(N(1), 1);
  EXPECT_EQ(net.peer(N(2)).log().LastIndex(), net.peer(N(1)).log().LastIndex());
  EXPECT_EQ(net.peer(N(1)).log().committed(), net.peer(N(1)).log().LastIndex());
}

TEST(Replication, MaxSizePerMsgBatches) {
  const uint64_t one = EntrySizeBytes(E(0, 0, "xxxxxxxxxx"));
  Network net(2, NetworkOptions{.max_size_per_msg = 2 * one});
  net.Campaign(N(1));
  net.Isolate(N(2));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(net.Propose(N(1), "xxxxxxxxxx").ok());
  net.Recover();
  net.ClearDelivered();
  net.Tick(N(1), 1);
  for (const Message& m : net.delivered()) {
    if (m.type == MessageType::kApp) {
      EXPECT_LE(m.entries.size(), 2u);
    }
  }
  EXPECT_EQ(net.peer(N(2)).log().LastIndex(), LogIndex(7));
}

TEST(Replication, UncommittedSizeLimitDropsProposals) {
  MemoryStorage s(ConfState{{N(1), N(2)}, {}});
  SeededRng rng(1);
  Config c;
  c.id = N(1);
  c.storage = &s;
  c.rng = &rng;
  c.max_uncommitted_entries_size = 10;
  std::unique_ptr<Raft> r = *Raft::Create(c);
  r->BecomeCandidate();
  r->BecomeLeader();
  auto prop = [&](std::string d) {
    Message m;
    m.type = MessageType::kProp;
    m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(d)});
    return r->Step(m);
  };
  EXPECT_TRUE(prop("123456").ok());
  EXPECT_TRUE(IsProposalDropped(prop("123456")));
  EXPECT_TRUE(prop("1234").ok());
  EXPECT_EQ(r->uncommitted_size(), 10u);
  r->AppliedTo(LogIndex(0), 0);
}

TEST(Replication, StaleAppendBelowCommitIsAcknowledgedNotApplied) {
  Network net(3);
  net.Campaign(N(1));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  ASSERT_TRUE(net.Propose(N(1), "b").ok());
  Message old;
  old.type = MessageType::kApp;
  old.from = N(1);
  old.to = N(2);
  old.term = Term(1);
  old.index = LogIndex(1);
  old.log_term = Term(1);
  old.entries = {E(2, 1, "a")};
  net.peer(N(2)).TakeMessages();
  ASSERT_TRUE(net.peer(N(2)).Step(old).ok());
  std::vector<Message> out = net.peer(N(2)).TakeMessages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index, LogIndex(3));  // its commit index
  EXPECT_EQ(net.peer(N(2)).log().LastIndex(), LogIndex(3));
}

TEST(Replication, HeartbeatCommitBoundedByMatch) {
  Network net(3);
  net.Campaign(N(1));
  net.Isolate(N(3));
  ASSERT_TRUE(net.Propose(N(1), "a").ok());
  net.Recover();
  net.Ignore(MessageType::kApp);
  net.ClearDelivered();
  net.Tick(N(1), 1);
  for (const Message& m : net.delivered()) {
    if (m.type == MessageType::kHeartbeat && m.to == N(3)) {
      EXPECT_EQ(m.commit, LogIndex(1));
    }
  }
  EXPECT_EQ(net.peer(N(3)).log().committed(), LogIndex(1));
}

TEST(Replication, DroppedMessagesEventuallyDelivered) {
  Network net(3, NetworkOptions{.seed = 7});
  net.Campaign(N(1));
  net.Drop(N(1), N(2), 50);
  net.Drop(N(2), N(1), 50);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(net.Propose(N(1), "x").ok());
  net.Recover();
  net.Tick(N(1), 3);
  EXPECT_EQ(AllEntries(net.peer(N(2))), AllEntries(net.peer(N(1))));
  EXPECT_EQ(net.peer(N(2)).log().committed(), LogIndex(21));
}

}  // namespace
}  // namespace sluice::raft
