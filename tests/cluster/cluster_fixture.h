// ClusterTest: a fixture of three real sluiced processes on 127.0.0.1 forming one cluster
// (each with its own data directory and ports, started with the flags a user gives), with
// raw MQTT clients per node and bounded waits. Used by the tests of tests/cluster.
#ifndef SLUICE_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
#define SLUICE_TESTS_CLUSTER_CLUSTER_FIXTURE_H_

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/conformance/harness.h"

namespace sluice::cluster_test {

using namespace conformance;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr uint32_t kPartitions = 16;  // sluiced's default


class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (UnderMosquitto()) GTEST_SKIP() << "a Sluice cluster";
    root_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
            "/cluster-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
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

}  // namespace sluice::cluster_test

#endif  // SLUICE_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
