#include "broker/cluster/cluster_node.h"

#include <utility>

#include "base/log.h"

namespace sluice::broker {

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(const ClusterConfig& config,
                                                                 NodeLinks::Sink sink) {
  if (absl::Status st = ValidateClusterConfig(config); !st.ok()) return st;
  const NodeId self(static_cast<uint64_t>(config.node_id));
  absl::StatusOr<std::map<NodeId, std::string>> peers =
      ParseClusterPeers(config.cluster_peers, self);
  if (!peers.ok()) return peers.status();
  std::unique_ptr<ClusterNode> node(new ClusterNode());
  node->self_ = self;
  node->peers_ = std::move(*peers);
  NodeLinks::Options lo;
  lo.self = self;
  lo.peers = node->peers_;
  lo.queue_max = static_cast<uint64_t>(config.cluster_publish_queue_max);
  node->links_ = std::make_unique<NodeLinks>(std::move(lo), std::move(sink));
  transport::GrpcTransportOptions to;
  to.self = self;
  to.listen_address = config.cluster_listen;
  to.extra_services.push_back(node->links_->service());
  node->transport_ = std::make_unique<transport::GrpcTransport>(std::move(to));
  return node;
}

ClusterNode::~ClusterNode() {
  StopLinks();
  transport_->Stop();  // idempotent: normally the log stopped it already
}

std::vector<NodeId> ClusterNode::members() const {
  std::vector<NodeId> out;
  for (const auto& [id, address] : peers_) out.push_back(id);
  return out;
}

void ClusterNode::Connect() {
  for (const auto& [id, address] : peers_) {
    if (id != self_) transport_->AddPeer(id, address);
  }
  links_->Start();
  SLOG(kInfo).Kv("node", self_.value()).Kv("cluster_port", transport_->port())
      .Kv("members", peers_.size()) << "cluster node connected to its peers";
}

void ClusterNode::StopLinks() { links_->Stop(); }

}  // namespace sluice::broker
