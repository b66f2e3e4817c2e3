// In-process transport for tests: every node's LocalTransport registers with one LocalNetwork,
// and Send hands the batch straight to the receiver's handler on the sender's thread. The
// network can cut links (one direction or both) and isolate nodes, like etcd's test network.
// Snapshots are reported delivered when the receiver is reachable.
//
// Thread-safe (one mutex in the network). Handlers are called with the network's mutex held,
// so a handler must not call back into the network (the TransportHandler contract forbids it).
#ifndef SLUICE_CLUSTER_TRANSPORT_LOCAL_TRANSPORT_H_
#define SLUICE_CLUSTER_TRANSPORT_LOCAL_TRANSPORT_H_

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "cluster/transport/transport.h"

namespace sluice::transport {

class LocalTransport;

class LocalNetwork {
 public:
  // Messages from `from` to `to` are dropped (one direction).
  void CutOneWay(NodeId from, NodeId to);
  void Cut(NodeId a, NodeId b);
  void Isolate(NodeId id);  // cuts every link to and from `id`
  void HealAll();

 private:
  friend class LocalTransport;
  void Register(NodeId id, LocalTransport* t);
  void Unregister(NodeId id);
  // False when `to` is unknown, stopped, or the link is cut.
  bool Deliver(NodeId from, NodeId to, std::vector<GroupMessage>& batch);

  std::mutex mu_;
  std::map<NodeId, LocalTransport*> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::set<NodeId> isolated_;
};

class LocalTransport final : public Transport {
 public:
  LocalTransport(LocalNetwork* network, NodeId self) : network_(network), self_(self) {}
  ~LocalTransport() override { Stop(); }

  absl::Status Start(TransportHandler* handler) override;
  void Stop() override;
  void AddPeer(NodeId peer, const std::string& address) override {}
  void RemovePeer(NodeId peer) override {}
  void Send(NodeId to, std::vector<GroupMessage> batch) override;
  TransportStats stats() const override;

 private:
  friend class LocalNetwork;
  LocalNetwork* network_;  // not owned
  NodeId self_;
  TransportHandler* handler_ = nullptr;  // guarded by network_->mu_
  mutable std::mutex stats_mu_;
  TransportStats stats_;
};

}  // namespace sluice::transport

#endif  // SLUICE_CLUSTER_TRANSPORT_LOCAL_TRANSPORT_H_
