// The cluster (README "Cluster"), proved on real sluiced processes: three nodes on 127.0.0.1,
// each with its own data directory, MQTT, metrics and cluster ports, started with the flags a
// user gives (--node-id, --cluster-listen, --cluster-peers).
//
//   - publishes of QoS 0, 1 and 2 on one node reach subscribers on the other two (3.1.1 and
//     5.0), each topic in order, QoS 2 once; a retained message is there for a new subscriber
//     on another node;
//   - the leader of a partition is killed with SIGKILL while QoS 1 and QoS 2 publishers run:
//     publishes are acknowledged again (failover), every acknowledged message reaches the
//     subscriber on a surviving node in per-topic order (QoS 2 once); the killed node,
//     restarted on its data directory, rejoins and delivers again.
//
// Every wait is bounded and waits for an event (an ack, a delivery, a metric that says who
// leads); the only timed reads are the harness's read timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/log/partitioner.h"
#include "tests/conformance/harness.h"

namespace sluice::cluster_test {
namespace {

using namespace conformance;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr uint32_t kPartitions = 16;  // sluiced's default


class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (UnderMosquitto()) GTEST_SKIP() << "a Sluice cluster";
    root_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
            "/cluster-" + std::to_string(getpid());
    std::string peers;
    for (int i = 1; i <= kNodes; ++i) {
      cluster_ports_[i] = PickFreePort();
      peers += (i > 1 ? "," : "") + std::to_string(i) + "@127.0.0.1:" +
               std::to_string(cluster_ports_[i]);
    }
    peers_ = peers;
    for (int i = 1; i <= kNodes; ++i) StartNode(i);
  }
  void TearDown() override {
    for (int i = 1; i <= kNodes; ++i) {
      if (!nodes_[i]) continue;
      if (auto status = nodes_[i]->Exited()) ADD_FAILURE() << "node " << i << " died: " << DescribeStatus(*status);
      if (HasFailure()) PrintLog(i);
    }
    // SIGKILL: a node stopping while the others are gone waits for a quorum to save its
    // sessions; what a clean stop does is tested standalone.
    for (int i = 1; i <= kNodes; ++i) Kill(i);
  }
  void PrintLog(int i) {
    std::ifstream in(LogPath(i));
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
    std::fprintf(stderr, "---- node %d log ----\n%s---- end ----\n", i, log.c_str());
  }
  std::string LogPath(int i) { return root_ + "/n" + std::to_string(i) + ".log"; }

  void StartNode(int i) {
    const std::string dir = root_ + "/n" + std::to_string(i);
    std::filesystem::create_directories(dir);
    std::string error;
    bool unsupported = false;
    nodes_[i] = BrokerProcess::Start(
        {"--data-dir", dir, "--node-id", std::to_string(i), "--cluster-listen",
         "127.0.0.1:" + std::to_string(cluster_ports_[i]), "--cluster-peers", peers_,
         "--threads", "2", "--sys-interval-s", "0"},
        &error, &unsupported, {}, LogPath(i) + (starts_[i]++ ? ".restart" : ""));
    ASSERT_TRUE(nodes_[i]) << "node " << i << ": " << error;
  }
  void Kill(int i) {
    if (!nodes_[i]) return;
    ::kill(nodes_[i]->pid(), SIGKILL);
    nodes_[i]->Stop(1s);  // reaps it
    nodes_[i].reset();
  }
  uint16_t port(int i) { return nodes_[i]->port(); }

  // The node every live node names as the leader of `partition` (0 if they do not agree
  // within the bound). Leadership is visible only in /metrics, so it is polled (bounded).
  int AwaitLeader(uint32_t partition) {
    const std::string metric = "sluice_raft_is_leader{partition=\"" + std::to_string(partition) + "\"}";
    for (int round = 0; round < 300; ++round) {
      int leader = 0, leaders = 0;
      for (int i = 1; i <= kNodes; ++i) {
        if (!nodes_[i]) continue;
        if (ScrapeMetric(nodes_[i]->metrics_port(), metric).value_or(0) == 1) {
          leader = i;
          ++leaders;
        }
      }
      if (leaders == 1) return leader;
      std::this_thread::sleep_for(50ms);  // bounded poll of a state with no event to await
    }
    return 0;
  }

  std::unique_ptr<RawClient> ClientOn(int node, const ConnectSpec& spec) {
    auto c = RawClient::Open(port(node), spec.version);
    c->Send(Connect(spec));
    c->connack = Decode(spec.version, c->Read());
    EXPECT_TRUE(c->connack.type == kConnack && c->connack.reason == 0)
        << "CONNACK for " << spec.client_id << " on node " << node;
    return c;
  }
  void Subscribe(RawClient& c, const std::string& filter, uint8_t qos) {
    const uint16_t id = c.NextId();
    c.Send(conformance::Subscribe(c.version(), id, {{.filter = filter, .qos = qos}}));
    Packet p = c.ReadDecoded();
    ASSERT_EQ(p.type, kSuback);
    ASSERT_EQ(p.reasons, std::vector<uint8_t>{qos});
  }
  // One whole QoS flow as the sender; true when the broker acknowledged success.
  bool Publish(RawClient& c, const std::string& topic, const std::string& payload, uint8_t qos,
               bool retain = false) {
    PublishSpec spec{.topic = topic, .payload = payload, .qos = qos, .retain = retain};
    if (qos > 0) spec.id = c.NextId();
    c.Send(conformance::Publish(c.version(), spec));
    if (qos == 0) return true;
    Packet ack = Decode(c.version(), c.ReadWhere([&](const Packet& p) {
      return (p.type == kPuback || p.type == kPubrec) && p.id == spec.id;
    }, 15s));
    if (ack.type == 0 || ack.reason >= 0x80) return false;
    if (qos == 1) return true;
    c.Send(Ack(c.version(), kPubrel, spec.id));
    Packet comp = Decode(c.version(), c.ReadWhere([&](const Packet& p) {
      return p.type == kPubcomp && p.id == spec.id;
    }, 15s));
    return comp.type == kPubcomp && comp.reason == 0;
  }
  // The next PUBLISH (acknowledged as the receiver), or a packet of type 0 at the timeout.
  Packet Receive(RawClient& c, Millis timeout = 10s) {
    Packet p = Decode(c.version(), c.ReadWhere([](const Packet& p) { return p.type == kPublish; }, timeout));
    if (p.type != kPublish) return p;
    if (p.qos == 1) c.Send(Ack(c.version(), kPuback, p.id));
    if (p.qos == 2) {
      c.Send(Ack(c.version(), kPubrec, p.id));
      c.ReadWhere([&](const Packet& r) { return r.type == kPubrel && r.id == p.id; });
      c.Send(Ack(c.version(), kPubcomp, p.id));
    }
    return p;
  }

  std::string root_;
  std::string peers_;
  std::map<int, uint16_t> cluster_ports_;
  std::map<int, int> starts_;
  std::map<int, std::unique_ptr<BrokerProcess>> nodes_;
};

TEST_F(ClusterTest, PublishOnOneNodeReachesSubscribersOnTheOthers) {
  auto s2 = ClientOn(2, {.version = kV5, .client_id = "sub-2"});
  auto s3 = ClientOn(3, {.version = kV311, .client_id = "sub-3"});
  Subscribe(*s2, "x/#", 2);
  Subscribe(*s3, "x/#", 2);
  auto pub = ClientOn(1, {.version = kV5, .client_id = "pub-1"});
  // QoS 1 first: it waits for the partition's leader, and proves the path through the log.
  ASSERT_TRUE(Publish(*pub, "x/warm", "w", 1));
  for (auto* s : {s2.get(), s3.get()}) ASSERT_EQ(Receive(*s).payload, "w");
  // QoS 0 goes over the node links, which connect in the background: probe until both
  // subscribers have one (bounded), then the real sequence.
  std::set<RawClient*> reached;
  for (int probe = 0; probe < 100 && reached.size() < 2; ++probe) {
    Publish(*pub, "x/probe", "p", 0);
    for (auto* s : {s2.get(), s3.get()}) {
      if (reached.count(s)) continue;
      Packet p = Receive(*s, 100ms);
      if (p.type == kPublish) reached.insert(s);
    }
  }
  ASSERT_EQ(reached.size(), 2u) << "QoS 0 never crossed to the other nodes";
  for (auto* s : {s2.get(), s3.get()}) {  // drop stray probes
    while (Receive(*s, 300ms).type == kPublish) {}
  }

  constexpr int kEach = 20;
  for (int i = 0; i < kEach; ++i) {
    for (uint8_t qos : {0, 1, 2})
      ASSERT_TRUE(Publish(*pub, "x/" + std::to_string(qos), std::to_string(i), qos));
  }
  for (auto* s : {s2.get(), s3.get()}) {
    std::map<std::string, std::vector<std::string>> got;
    for (int n = 0; n < 3 * kEach; ++n) {
      Packet p = Receive(*s);
      ASSERT_EQ(p.type, kPublish) << "after " << n << " messages";
      got[p.topic].push_back(p.payload);
    }
    for (const char* topic : {"x/0", "x/1", "x/2"}) {
      ASSERT_EQ(got[topic].size(), size_t{kEach}) << topic;
      for (int i = 0; i < kEach; ++i) EXPECT_EQ(got[topic][i], std::to_string(i)) << topic;
    }
  }

  // Retained: once the live subscribers on nodes 2 and 3 got it, those nodes have applied it,
  // and a new subscriber there gets it from the retained store.
  ASSERT_TRUE(Publish(*pub, "x/kept", "r", 1, /*retain=*/true));
  for (auto* s : {s2.get(), s3.get()}) ASSERT_EQ(Receive(*s).payload, "r");
  for (int node : {2, 3}) {
    auto late = ClientOn(node, {.version = kV5, .client_id = "late-" + std::to_string(node)});
    Subscribe(*late, "x/+", 1);
    Packet p = Receive(*late);
    EXPECT_EQ(p.topic, "x/kept");
    EXPECT_EQ(p.payload, "r");
    EXPECT_TRUE(p.retain);
  }
}

TEST_F(ClusterTest, KillingAPartitionLeaderLosesNoAcknowledgedMessage) {
  const int victim = AwaitLeader(0);
  ASSERT_NE(victim, 0) << "no leader of partition 0";
  const int pub_node = victim % kNodes + 1;
  const int sub_node = pub_node % kNodes + 1;
  // Topics on the victim's partition 0 and on others.
  storage::Partitioner partitioner(kPartitions, 0);
  std::vector<std::string> topics;
  int on_p0 = 0;
  for (int i = 0; topics.size() < 8 && i < 10000; ++i) {
    const std::string t = "kl/" + std::to_string(i);
    const bool p0 = partitioner.For(t).value() == 0;
    if (p0 ? on_p0 < 4 : static_cast<int>(topics.size()) - on_p0 < 4) {
      topics.push_back(t);
      on_p0 += p0;
    }
  }
  ASSERT_EQ(on_p0, 4);

  Properties persistent;
  persistent.Add(kSessionExpiry, 3600u);
  auto sub = ClientOn(sub_node, {.version = kV5, .client_id = "kl-sub", .clean = false,
                                 .props = persistent});
  Subscribe(*sub, "kl/#", 2);
  auto q1 = ClientOn(pub_node, {.version = kV5, .client_id = "kl-q1"});
  auto q2 = ClientOn(pub_node, {.version = kV5, .client_id = "kl-q2"});

  // Publishes "topic:seq"; acked[topic] holds the acknowledged seqs.
  std::map<std::string, std::set<int>> acked;
  std::map<std::string, uint8_t> qos_of;
  int seq = 0, acked_total = 0, failed = 0, acked_after_kill = 0;
  bool killed = false;
  for (int round = 0; round < 2000 && acked_after_kill < 200; ++round) {
    const std::string& topic = topics[round % topics.size()];
    const uint8_t qos = round % 2 == 0 ? 1 : 2;
    qos_of[topic] = qos;  // a topic always gets the same QoS (round % 8 keeps the parity)
    const int s = ++seq;
    if (Publish(qos == 1 ? *q1 : *q2, topic, topic + ":" + std::to_string(s), qos)) {
      acked[topic].insert(s);
      ++acked_total;
      if (killed) ++acked_after_kill;
    } else {
      ++failed;  // outcome unknown (the leader died with it in flight): not counted
    }
    if (!killed && acked_total == 200) {
      Kill(victim);
      killed = true;
    }
  }
  ASSERT_TRUE(killed);
  ASSERT_EQ(acked_after_kill, 200) << "publishes were not acknowledged again after the kill ("
                                   << failed << " failed)";
  EXPECT_NE(AwaitLeader(0), victim);
  std::fprintf(stderr, "victim node %d: %d acknowledged, %d failed (leader died with them)\n",
               victim, acked_total, failed);

  // Every acknowledged message reaches the subscriber, each topic in publish order, and no
  // QoS 2 message twice.
  std::map<std::string, std::vector<int>> got;
  size_t missing = acked_total;
  for (int n = 0; n < acked_total + failed + 10 && missing > 0; ++n) {
    Packet p = Receive(*sub, 15s);
    ASSERT_EQ(p.type, kPublish) << missing << " acknowledged messages never arrived";
    const size_t colon = p.payload.find(':');
    const std::string topic = p.payload.substr(0, colon);
    const int s = std::stoi(p.payload.substr(colon + 1));
    got[topic].push_back(s);
    if (acked[topic].count(s)) --missing;
  }
  EXPECT_EQ(missing, 0u);
  for (auto& [topic, seqs] : got) {
    for (size_t i = 1; i < seqs.size(); ++i)
      EXPECT_LT(seqs[i - 1], seqs[i]) << topic << " out of order or twice (QoS "
                                      << int(qos_of[topic]) << ")";
  }

  // The killed node comes back on its data directory and serves again.
  StartNode(victim);
  auto back = ClientOn(victim, {.version = kV5, .client_id = "kl-back"});
  ASSERT_TRUE(Publish(*back, topics[0], topics[0] + ":" + std::to_string(++seq), 1));
  Packet p = Receive(*sub, 15s);
  EXPECT_EQ(p.payload, topics[0] + ":" + std::to_string(seq));
}

}  // namespace
}  // namespace sluice::cluster_test
