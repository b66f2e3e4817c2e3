// Session claims: the encoding, the table's answers, and the rule's promise under seeded
// interleavings: several nodes each apply one metadata log at their own pace while CONNECTs
// for one client id start on random nodes and some are abandoned; once every node applied
// everything, exactly the last claim's connection is live (none if it was abandoned), and no
// node ever admitted a CONNECT whose claim is not its own.
#include "cluster/sessions/claims.h"

#include <map>
#include <optional>
#include <vector>

#include "base/rng.h"
#include "gtest/gtest.h"

namespace sluice::cluster {
namespace {

TEST(ClaimsTest, EncodesAndRefusesWhatIsNotAClaim) {
  const Claim c{"sensor/\x01\xff-7", NodeId(3), 0x0123456789abcdefULL};
  absl::StatusOr<Claim> back = DecodeClaim(EncodeClaim(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(DecodeClaim("").ok());
  EXPECT_FALSE(DecodeClaim(EncodeClaim(c).substr(0, 16)).ok());
  std::string other = EncodeClaim(c);
  other[0] = 'X';
  EXPECT_FALSE(DecodeClaim(other).ok());
}

TEST(ClaimsTest, AdmitsOnlyItsOwnWaitingClaimAndBoundsTheWaiting) {
  ClaimTable t(NodeId(1), 2);
  ASSERT_TRUE(t.Begin("a", 10));
  ASSERT_TRUE(t.Begin("b", 11));
  EXPECT_FALSE(t.Begin("c", 12));  // waiting_max
  EXPECT_EQ(t.Apply({"a", NodeId(2), 10}), ClaimTable::Action::kTakeOver);  // same token, other node
  EXPECT_EQ(t.Apply({"x", NodeId(1), 10}), ClaimTable::Action::kTakeOver);  // other client id
  EXPECT_EQ(t.Apply({"a", NodeId(1), 10}), ClaimTable::Action::kAdmit);
  EXPECT_EQ(t.Apply({"a", NodeId(1), 10}), ClaimTable::Action::kTakeOver);  // replayed: nobody waits
  t.Abandon(11);
  EXPECT_EQ(t.Apply({"b", NodeId(1), 11}), ClaimTable::Action::kTakeOver);
  EXPECT_EQ(t.waiting(), 0u);
  EXPECT_TRUE(t.Begin("c", 12));
}

// One node of the simulation: its table, how far it applied the log, the token of its live
// connection of the client id (0 = none) and the tokens it still waits for.
struct SimNode {
  explicit SimNode(NodeId id) : table(id, 1000) {}
  ClaimTable table;
  size_t applied = 0;
  uint64_t live = 0;
  std::map<uint64_t, bool> waiting;
};

TEST(ClaimsTest, TheLastClaimAppliedIsTheOnlyLiveConnection) {
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    SeededRng rng(seed);
    const int nodes = 2 + static_cast<int>(rng.Next() % 4);
    std::vector<SimNode> sim;
    for (int i = 1; i <= nodes; ++i) sim.emplace_back(NodeId(i));
    std::vector<Claim> log;
    std::map<uint64_t, bool> abandoned;
    uint64_t next_token = 1;
    for (int step = 0; step < 200; ++step) {
      SimNode& n = sim[rng.Next() % nodes];
      const uint64_t what = rng.Next() % 10;
      if (what < 3) {  // a CONNECT starts here: its claim joins the log
        const uint64_t token = next_token++;
        ASSERT_TRUE(n.table.Begin("c", token));
        n.waiting[token] = true;
        log.push_back({"c", NodeId(&n - sim.data() + 1), token});
      } else if (what < 4 && !n.waiting.empty()) {  // a proposal fails, or the socket closes
        const uint64_t token = n.waiting.begin()->first;
        n.table.Abandon(token);
        n.waiting.erase(token);
        abandoned[token] = true;
      } else if (what < 5 && n.live != 0) {  // the live connection goes away by itself
        n.live = 0;
      } else if (n.applied < log.size()) {  // this node applies the next claim
        const Claim& c = log[n.applied++];
        switch (n.table.Apply(c)) {
          case ClaimTable::Action::kAdmit:
            ASSERT_EQ(c.node, NodeId(&n - sim.data() + 1)) << "seed " << seed;
            ASSERT_TRUE(n.waiting.erase(c.token)) << "seed " << seed;
            n.live = c.token;  // the broker's local takeover replaces an older one
            break;
          case ClaimTable::Action::kTakeOver:
            n.live = 0;
            break;
          case ClaimTable::Action::kNone:
            break;
        }
      }
    }
    // Everyone catches up; connections that close by themselves no longer do.
    for (SimNode& n : sim) {
      while (n.applied < log.size()) {
        const Claim& c = log[n.applied++];
        ClaimTable::Action a = n.table.Apply(c);
        if (a == ClaimTable::Action::kAdmit) n.live = c.token;
        if (a == ClaimTable::Action::kTakeOver) n.live = 0;
      }
    }
    int live = 0;
    for (const SimNode& n : sim) live += n.live != 0;
    if (log.empty()) continue;
    const Claim& last = log.back();
    const SimNode& owner = sim[last.node.value() - 1];
    if (abandoned.count(last.token)) {
      EXPECT_EQ(live, 0) << "seed " << seed;
    } else {
      EXPECT_LE(live, 1) << "seed " << seed;
      // Live unless it went away by itself after it was admitted.
      if (live == 1) {
        EXPECT_EQ(owner.live, last.token) << "seed " << seed;
      }
    }
  }
}

}  // namespace
}  // namespace sluice::cluster
