// Operating a cluster (README "Cluster": operations), on three real sluiced processes:
//   - from any node, `sluicectl cluster status` lists every member with its address, link and
//     leaderships (summing to every partition), and says READY (exit 0); `sluicectl status`
//     names the node and its members; `partitions list` shows each partition's replicas with
//     its leader; /metrics has the sluice_cluster_* families and /readyz is 200;
//   - a node left without a quorum (the two others killed) is not ready: /readyz 503 with the
//     reason, `cluster status` exit 1 with the peers unreachable, sluice_cluster_ready 0; once
//     one peer is back it is ready again.
// Readiness and link state have no event to await from outside: they are polled, bounded.
#include <string>
#include <vector>

#include "proto/admin.pb.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/ops/ctl_util.h"
#include "tests/ops/ops_util.h"

namespace sluice::cluster_test {
namespace {

namespace pb = ::sluice::admin::v1;
using ops_test::HttpGet;
using ops_test::ParseJson;
using ops_test::Sluicectl;
using ops_test::RunTool;
using ops_test::ToolResult;

class ClusterOpsTest : public ClusterTest {
 protected:
  ToolResult Ctl(int node, std::vector<std::string> args) {
    args.insert(args.begin(),
                {Sluicectl(), "--server=127.0.0.1:" + std::to_string(nodes_[node]->admin_port())});
    return RunTool(args, {}, {"SLUICE_ADMIN"});
  }
  // Polls `node`'s cluster status (bounded) until `done` holds; returns the last one.
  template <typename Pred>
  pb::ClusterStatus AwaitCluster(int node, Pred done) {
    pb::ClusterStatus c;
    for (int round = 0; round < 300; ++round) {
      ToolResult r = Ctl(node, {"-o", "json", "cluster", "status"});
      c = ParseJson<pb::ClusterStatus>(r.out);
      if (done(c)) return c;
      std::this_thread::sleep_for(50ms);
    }
    return c;
  }
  int AwaitReadyz(int node, int want_status) {
    int status = 0;
    for (int round = 0; round < 300 && status != want_status; ++round) {
      status = HttpGet(nodes_[node]->metrics_port(), "/readyz").status;
      if (status != want_status) std::this_thread::sleep_for(50ms);
    }
    return status;
  }
};

bool AllReachable(const pb::ClusterStatus& c) {
  if (c.members_size() != kNodes) return false;
  for (const auto& m : c.members())
    if (!m.reachable()) return false;
  return c.ready();
}

TEST_F(ClusterOpsTest, OperatorsSeeTheClusterFromAnyNode) {
  for (int i = 1; i <= kNodes; ++i) ASSERT_EQ(AwaitReadyz(i, 200), 200) << "node " << i;
  for (int i = 1; i <= kNodes; ++i) {
    pb::ClusterStatus c = AwaitCluster(i, AllReachable);
    ASSERT_TRUE(AllReachable(c)) << "node " << i << ": " << c.DebugString();
    EXPECT_EQ(c.node_id(), static_cast<uint64_t>(i));
    EXPECT_EQ(c.partitions(), kPartitions);
    EXPECT_EQ(c.partitions_without_leader(), 0u);
    uint32_t led = 0;
    for (const auto& m : c.members()) {
      EXPECT_EQ(m.self(), m.node_id() == static_cast<uint64_t>(i));
      EXPECT_EQ(m.address(), "127.0.0.1:" + std::to_string(cluster_ports_[m.node_id()]));
      led += m.partitions_led();
    }
    EXPECT_EQ(led, kPartitions) << "every partition has exactly one leader";
  }
  ToolResult table = Ctl(2, {"cluster", "status"});
  EXPECT_EQ(table.exit_code, 0) << table.out << table.err;
  EXPECT_NE(table.out.find("2 (this node)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\nREADY\n"), std::string::npos) << table.out;

  pb::NodeStatus status = ParseJson<pb::NodeStatus>(Ctl(3, {"-o", "json", "status"}).out);
  EXPECT_EQ(status.role(), "cluster node 3");
  ASSERT_EQ(status.members_size(), kNodes);
  EXPECT_EQ(status.members(0), "1@127.0.0.1:" + std::to_string(cluster_ports_[1]));

  // Partition 0 on its leader: three replicas, the leader marked, followers' lag known.
  const int leader = AwaitLeader(0);
  ASSERT_NE(leader, 0);
  pb::ListPartitionsResponse parts =
      ParseJson<pb::ListPartitionsResponse>(Ctl(leader, {"-o", "json", "partitions", "list"}).out);
  ASSERT_EQ(parts.partitions_size(), static_cast<int>(kPartitions));
  const pb::Partition& p0 = parts.partitions(0);
  ASSERT_EQ(p0.replicas_size(), kNodes);
  int leaders = 0;
  for (const auto& r : p0.replicas()) {
    if (r.leader()) {
      ++leaders;
      EXPECT_EQ(r.node_id(), static_cast<uint64_t>(leader));
    }
    EXPECT_GT(r.match_index(), 0u) << "the leader knows every replica's progress";
  }
  EXPECT_EQ(leaders, 1);
  ToolResult list = Ctl(leader, {"partitions", "list"});
  EXPECT_NE(list.out.find("REPLICAS"), std::string::npos) << list.out;

  // Node links in /metrics: a QoS 0 message from node 1 to a subscriber on node 2.
  auto sub = ClientOn(2, {.version = kV5, .client_id = "ops-sub"});
  Subscribe(*sub, "ops/#", 0);
  auto pub = ClientOn(1, {.version = kV5, .client_id = "ops-pub"});
  ASSERT_TRUE(Publish(*pub, "ops/a", "hello", 0));
  EXPECT_EQ(Receive(*sub).payload, "hello");
  const uint16_t m1 = nodes_[1]->metrics_port(), m2 = nodes_[2]->metrics_port();
  EXPECT_EQ(ScrapeMetric(m1, "sluice_cluster_members").value_or(0), kNodes);
  EXPECT_EQ(ScrapeMetric(m1, "sluice_cluster_ready").value_or(0), 1);
  EXPECT_EQ(ScrapeMetric(m1, "sluice_cluster_peer_reachable{peer=\"2\"}").value_or(0), 1);
  EXPECT_GE(ScrapeMetric(m1, "sluice_cluster_link_messages_sent_total{peer=\"2\"}").value_or(0), 1);
  EXPECT_GE(ScrapeMetric(m2, "sluice_cluster_link_messages_received_total").value_or(0), 1);
  EXPECT_GT(ScrapeMetric(m2, "sluice_cluster_raft_messages_received_total").value_or(0), 0);
}

TEST_F(ClusterOpsTest, ANodeWithoutAQuorumIsNotReady) {
  ASSERT_EQ(AwaitReadyz(1, 200), 200);
  Kill(2);
  Kill(3);
  ASSERT_EQ(AwaitReadyz(1, 503), 503) << "node 1 alone still says it is ready";
  ops_test::HttpResponse r = HttpGet(nodes_[1]->metrics_port(), "/readyz");
  EXPECT_NE(r.body.find("no leader"), std::string::npos) << r.body;
  pb::ClusterStatus c = AwaitCluster(1, [](const pb::ClusterStatus& c) {
    int down = 0;
    for (const auto& m : c.members()) down += m.reachable() ? 0 : 1;
    return down == 2 && !c.ready();
  });
  EXPECT_FALSE(c.ready());
  EXPECT_GT(c.partitions_without_leader(), 0u);
  EXPECT_NE(c.not_ready_reason().find("no leader"), std::string::npos) << c.not_ready_reason();
  ToolResult table = Ctl(1, {"cluster", "status"});
  EXPECT_EQ(table.exit_code, 1) << table.out;
  EXPECT_NE(table.out.find("NOT READY"), std::string::npos) << table.out;
  EXPECT_EQ(ScrapeMetric(nodes_[1]->metrics_port(), "sluice_cluster_ready").value_or(-1), 0);

  StartNode(2);  // a quorum again
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(AwaitReadyz(1, 200), 200);
  EXPECT_EQ(AwaitReadyz(2, 200), 200);
}

}  // namespace
}  // namespace sluice::cluster_test
