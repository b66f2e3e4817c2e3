#include "broker/cluster/cluster_config.h"

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

TEST(ClusterConfigTest, ParsesPeers) {
  auto peers = ParseClusterPeers({"1@127.0.0.1:7001", "2@h2:7002", "3@[::1]:7003"}, NodeId(2));
  ASSERT_TRUE(peers.ok()) << peers.status();
  ASSERT_EQ(peers->size(), 3u);
  EXPECT_EQ(peers->at(NodeId(1)), "127.0.0.1:7001");
  EXPECT_EQ(peers->at(NodeId(3)), "[::1]:7003");
}

TEST(ClusterConfigTest, RefusesBadPeersNamingTheEntry) {
  struct Case {
    std::vector<std::string> peers;
    const char* says;
  } cases[] = {
      {{"1@h:1", "h:2"}, "'h:2'"},
      {{"0@h:1"}, "'0@h:1'"},
      {{"1@h"}, "'1@h'"},
      {{"1@h:0"}, "'1@h:0'"},
      {{"x@h:1"}, "'x@h:1'"},
      {{"1@h:1", "1@h:2"}, "node id 1 appears twice"},
      {{"1@h:1", "2@h:1"}, "address h:1 appears twice"},
      {{"2@h:1", "3@h:2"}, "does not name this node"},
      {{"1@h:1", "2@h:2", "3@h:3", "4@h:4", "5@h:5", "6@h:6", "7@h:7", "8@h:8"}, "at most 7"},
  };
  for (const Case& c : cases) {
    auto peers = ParseClusterPeers(c.peers, NodeId(1));
    ASSERT_FALSE(peers.ok()) << c.says;
    EXPECT_TRUE(absl::IsInvalidArgument(peers.status()));
    EXPECT_NE(peers.status().message().find(c.says), std::string::npos) << peers.status();
  }
}

TEST(ClusterConfigTest, ListenIsRequiredWithPeers) {
  ClusterConfig c;
  EXPECT_TRUE(ValidateClusterConfig(c).ok());  // standalone
  c.cluster_peers = {"1@127.0.0.1:7001", "2@127.0.0.1:7002"};
  EXPECT_NE(ValidateClusterConfig(c).message().find("cluster_listen"), std::string::npos);
  c.cluster_listen = "nonsense";
  EXPECT_NE(ValidateClusterConfig(c).message().find("'nonsense'"), std::string::npos);
  c.cluster_listen = "127.0.0.1:7001";
  EXPECT_TRUE(ValidateClusterConfig(c).ok());
}

}  // namespace
}  // namespace sluice::broker
