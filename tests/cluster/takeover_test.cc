// One live connection per client id in the whole cluster (README "Cluster", session claims),
// on three real sluiced processes:
//
//   - a client id that connects on node 1, then node 2, then node 3 (3.1.1), then node 1
//     again: each older connection is taken over (MQTT 5: DISCONNECT 0x8E, then the close;
//     3.1.1: the close) and the newest answers; a will without delay goes out when its
//     connection is taken over, wherever its subscriber is;
//   - two CONNECTs of one client id sent at once to two nodes, ten rounds: exactly one
//     connection lives on.
//
// Every wait is bounded and waits for an event: a CONNACK means the claim was applied on
// that node, and a CONNECT of another client id made after it on a node is applied there
// after it (one metadata log), so its CONNACK is the barrier after which the takeover has
// been queued ahead of any later packet of the client.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/cluster/cluster_fixture.h"

namespace sluice::cluster_test {
namespace {

// Answers PINGREQ: alive. Else false (taken over: DISCONNECT 0x8E first in 5.0, then closed).
bool Alive(RawClient& c) {
  c.Send(Pingreq());
  Packet p = c.ReadDecoded();
  return p.type == kPingresp;
}

// The connection was taken over: MQTT 5 hears DISCONNECT 0x8E, every version sees the close.
void ExpectTakenOver(RawClient& c, const std::string& who) {
  if (c.version() == kV5) EXPECT_TRUE(IsDisconnect(c.Read(), 0x8E)) << who;
  EXPECT_TRUE(c.ExpectClosed()) << who << " should be closed";
}

TEST_F(ClusterTest, AClientIdHasOneLiveConnectionInTheCluster) {
  auto watcher = ClientOn(3, {.version = kV5, .client_id = "watcher"});
  Subscribe(*watcher, "wills/#", 1);
  ConnectSpec first{.version = kV5, .client_id = "dev"};
  first.will = Will{.topic = "wills/dev", .payload = "gone", .qos = 1};
  auto on1 = ClientOn(1, first);
  auto on2 = ClientOn(2, {.version = kV5, .client_id = "dev"});
  ExpectTakenOver(*on1, "the connection on node 1");
  EXPECT_EQ(ScrapeMetric(nodes_[1]->metrics_port(), "sluice_cluster_sessions_taken_over_total"), 1);
  EXPECT_EQ(ScrapeMetric(nodes_[2]->metrics_port(),
                         "sluice_cluster_session_claims_total{result=\"admitted\"}"), 1);
  // Its will had no delay: it went out when the connection was taken over.
  Packet will = Receive(*watcher);
  EXPECT_EQ(will.topic, "wills/dev");
  EXPECT_EQ(will.payload, "gone");
  auto on3 = ClientOn(3, {.version = kV311, .client_id = "dev"});
  ExpectTakenOver(*on2, "the connection on node 2");
  auto again = ClientOn(1, {.version = kV5, .client_id = "dev"});
  ExpectTakenOver(*on3, "the 3.1.1 connection on node 3");
  EXPECT_TRUE(Alive(*again));
  EXPECT_TRUE(Alive(*watcher));
}

TEST_F(ClusterTest, RacingConnectsOnTwoNodesLeaveOneLiveConnection) {
  for (int round = 0; round < 10; ++round) {
    const std::string id = "race-" + std::to_string(round);
    auto a = RawClient::Open(port(2), kV5);
    auto b = RawClient::Open(port(3), kV5);
    const Bytes connect = Connect({.version = kV5, .client_id = id});
    a->Send(connect);
    b->Send(connect);
    std::vector<std::pair<RawClient*, std::string>> admitted;
    for (auto [c, name] : {std::pair{a.get(), "node 2"}, std::pair{b.get(), "node 3"}}) {
      Packet ack = c->ReadDecoded();
      ASSERT_EQ(ack.type, kConnack) << name << " round " << round;
      // Refused only when the cluster could not confirm the claim in time (0x88).
      if (ack.reason == 0) admitted.emplace_back(c, name);
    }
    ASSERT_FALSE(admitted.empty()) << "round " << round;
    // Barriers: after these CONNACKs both nodes have applied both claims.
    for (int node : {2, 3}) {
      ClientOn(node, {.version = kV5, .client_id = id + "-barrier-" + std::to_string(node)});
    }
    int alive = 0;
    for (auto& [c, name] : admitted) {
      c->Send(Pingreq());
      Packet p = c->ReadDecoded();
      if (p.type == kPingresp) {
        ++alive;
        continue;
      }
      EXPECT_EQ(p.type, kDisconnect) << name << " round " << round;
      EXPECT_EQ(p.reason, 0x8E) << name << " round " << round;
      EXPECT_TRUE(c->ExpectClosed()) << name << " round " << round;
    }
    EXPECT_EQ(alive, 1) << "round " << round;
  }
}

}  // namespace
}  // namespace sluice::cluster_test
