// The cluster settings of sluiced (README "Cluster"): which node this is, where it listens for
// other nodes, and who the members are. Registered into the broker's ConfigSchema by
// BrokerConfig; without `cluster_peers` the broker is standalone and none of this is used.
//
//   node_id          this node's id (1..2^31), unique in the cluster, kept with its data dir
//   cluster_listen   HOST:PORT for Raft and node-to-node publishes (one gRPC port)
//   cluster_peers    every member, this node included: "1@host:port,2@host:port,3@host:port"
//
// Pure: parsing and validation only. Thread-compatible.
#ifndef SLUICE_BROKER_CLUSTER_CLUSTER_CONFIG_H_
#define SLUICE_BROKER_CLUSTER_CLUSTER_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"

namespace sluice::broker {

struct ClusterConfig {
  int64_t node_id = 1;
  std::string cluster_listen;
  std::vector<std::string> cluster_peers;  // "ID@HOST:PORT" each (a YAML list or commas)
  // Limits of the node-to-node publish links (cluster/node_links.h).
  int64_t cluster_publish_queue_max = 65536;  // messages waiting per peer; beyond: dropped

  bool enabled() const { return !cluster_peers.empty(); }
};

// The members named by `peers`, by id. InvalidArgument (naming the entry) for a malformed
// entry, an id of 0, a duplicate id or address, a list without `self`, or more than
// kMaxClusterMembers members.
inline constexpr size_t kMaxClusterMembers = 7;
absl::StatusOr<std::map<NodeId, std::string>> ParseClusterPeers(
    const std::vector<std::string>& peers, NodeId self);

// All of the above, plus: cluster_listen is required with peers and must be HOST:PORT.
absl::Status ValidateClusterConfig(const ClusterConfig& c);

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_CLUSTER_CLUSTER_CONFIG_H_
