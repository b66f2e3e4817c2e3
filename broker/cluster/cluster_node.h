// ClusterNode: what makes a broker one node of a cluster (README "Cluster"). It owns the
// node's network edge: the Raft transport of its commit log (cluster/transport GrpcTransport,
// which also serves the node-to-node publish links on the same port) and the NodeLinks that
// carry messages not in the log to the other nodes.
//
// The cluster's shape today: static membership from `cluster_peers` (at most
// kMaxClusterMembers nodes); every node is a voter of every Raft group -- the metadata group
// and each partition -- so every node holds every record and routes what its own replica
// applies (no route table). A QoS 1/2 publish on a node that does not lead its partition is
// forwarded to the leader inside the Raft stream (PartitionedLogOptions::forward_proposals)
// and acknowledged once committed by a quorum and applied here.
//
// Lifecycle (Broker::Start/Stop): Create binds nothing; the commit log starts the transport
// when it opens (PartitionedLog takes it as its transport) and Connect then adds the peers and
// starts the links; StopLinks before the shards stop; the transport is stopped by the log.
// Thread-safety: Broadcast and stats from any thread; the rest from the broker's controlling
// thread.
#ifndef SLUICE_BROKER_CLUSTER_CLUSTER_NODE_H_
#define SLUICE_BROKER_CLUSTER_CLUSTER_NODE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "broker/cluster/cluster_config.h"
#include "broker/cluster/node_links.h"
#include "cluster/transport/grpc_transport.h"

namespace sluice::broker {

class ClusterNode {
 public:
  // InvalidArgument for a bad configuration (ValidateClusterConfig). `sink` receives the
  // messages other nodes broadcast (on gRPC threads).
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(const ClusterConfig& config,
                                                             NodeLinks::Sink sink);
  ~ClusterNode();

  NodeId self() const { return self_; }
  // Every member, this node included, by id.
  std::vector<NodeId> members() const;
  const std::map<NodeId, std::string>& peers() const { return peers_; }
  // The Raft transport, for the commit log (not started until the log opens).
  transport::Transport* transport() { return transport_.get(); }
  // After the log opened (and so started the transport): the peers, then the links.
  void Connect();
  void StopLinks();
  void Broadcast(const storage::Record& record) { links_->Broadcast(record); }
  NodeLinkStats link_stats() const { return links_->stats(); }
  std::vector<PeerLinkStats> peer_stats() const { return links_->peer_stats(); }
  transport::TransportStats transport_stats() const { return transport_->stats(); }
  // The bound cluster port (after the log opened).
  int port() const { return transport_->port(); }

 private:
  ClusterNode() = default;
  NodeId self_;
  std::map<NodeId, std::string> peers_;
  std::unique_ptr<NodeLinks> links_;  // before the transport: its service outlives the server
  std::unique_ptr<transport::GrpcTransport> transport_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_CLUSTER_CLUSTER_NODE_H_
