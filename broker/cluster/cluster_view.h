// ClusterView: what one node knows of the cluster -- members, their links, who leads which
// partition, whether this node is ready -- for `sluicectl cluster status`, /metrics and /readyz
// (README "Cluster", "Operating a cluster"). BuildClusterView is a pure function of the
// node's link stats and its replicas' Raft status, so its rules are unit-tested without a
// cluster; ViewOf gathers those inputs from a running node.
//
// Readiness: a node is ready when every partition has a leader it knows and its own replica
// has applied everything it knows to be committed (so a node that restarted, or cannot reach
// a quorum, says why it is not).
// Thread-safety: BuildClusterView is pure; ViewOf may be called from any thread.
#ifndef SLUICE_BROKER_CLUSTER_CLUSTER_VIEW_H_
#define SLUICE_BROKER_CLUSTER_CLUSTER_VIEW_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "broker/cluster/node_links.h"
#include "cluster/multiraft/multiraft.h"

namespace sluice::storage {
class PartitionedLog;
}

namespace sluice::broker {

class ClusterNode;

struct MemberView {
  NodeId id;
  std::string address;         // its cluster address (this node: its own)
  bool self = false;
  bool reachable = false;      // this node: true; a peer: its node link is up
  uint32_t partitions_led = 0; // as this node sees the leaders
  uint64_t link_messages_sent = 0;
  uint64_t link_dropped = 0;
  uint64_t link_queued = 0;
  uint64_t max_lag_entries = 0;  // on partitions this node leads: the peer's worst lag
};

struct ClusterView {
  NodeId self;
  std::vector<MemberView> members;  // by id
  uint32_t partitions = 0;
  uint32_t partitions_without_leader = 0;
  uint32_t partitions_catching_up = 0;  // this replica has not applied what it knows committed
  std::optional<std::string> not_ready;  // why this node is not ready; nullopt when it is
};

// `partitions[i]` is this node's status of partition i's group (nullopt: not open here).
ClusterView BuildClusterView(NodeId self, const std::string& self_address,
                             const std::vector<PeerLinkStats>& peers,
                             const std::vector<std::optional<multiraft::GroupStatus>>& partitions);

ClusterView ViewOf(const ClusterNode& node, const storage::PartitionedLog& log);

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_CLUSTER_CLUSTER_VIEW_H_
