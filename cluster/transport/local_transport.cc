#include "cluster/transport/local_transport.h"

namespace sluice::transport {

void LocalNetwork::CutOneWay(NodeId from, NodeId to) {
  std::lock_guard<std::mutex> l(mu_);
  cut_.insert({from, to});
}

void LocalNetwork::Cut(NodeId a, NodeId b) {
  std::lock_guard<std::mutex> l(mu_);
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void LocalNetwork::Isolate(NodeId id) {
  std::lock_guard<std::mutex> l(mu_);
  isolated_.insert(id);
}

void LocalNetwork::HealAll() {
  std::lock_guard<std::mutex> l(mu_);
  cut_.clear();
  isolated_.clear();
}

void LocalNetwork::Register(NodeId id, LocalTransport* t) {
  std::lock_guard<std::mutex> l(mu_);
  nodes_[id] = t;
}

void LocalNetwork::Unregister(NodeId id) {
  std::lock_guard<std::mutex> l(mu_);
  nodes_.erase(id);
}

bool LocalNetwork::Deliver(NodeId from, NodeId to, std::vector<GroupMessage>& batch) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(to);
  if (it == nodes_.end() || isolated_.count(from) || isolated_.count(to) ||
      cut_.count({from, to})) {
    return false;
  }
  std::vector<GroupMessage> snaps;
  for (const GroupMessage& gm : batch) {
    if (gm.message.type == raft::MessageType::kSnap) snaps.push_back(gm);
  }
  it->second->handler_->HandleMessages(from, std::move(batch));
  // The sender learns that its snapshots arrived.
  auto sender = nodes_.find(from);
  if (sender != nodes_.end()) {
    for (const GroupMessage& gm : snaps) {
      sender->second->handler_->HandleSnapshotStatus(gm.group, to, true);
    }
  }
  return true;
}

absl::Status LocalTransport::Start(TransportHandler* handler) {
  handler_ = handler;
  network_->Register(self_, this);
  return absl::OkStatus();
}

void LocalTransport::Stop() { network_->Unregister(self_); }

void LocalTransport::Send(NodeId to, std::vector<GroupMessage> batch) {
  const uint64_t n = batch.size();
  std::vector<GroupId> snap_groups;
  for (const GroupMessage& gm : batch) {
    if (gm.message.type == raft::MessageType::kSnap) snap_groups.push_back(gm.group);
  }
  const bool ok = network_->Deliver(self_, to, batch);
  if (!ok && handler_ != nullptr) {
    for (GroupId g : snap_groups) handler_->HandleSnapshotStatus(g, to, false);
  }
  std::lock_guard<std::mutex> l(stats_mu_);
  if (ok) {
    stats_.messages_sent += n;
    ++stats_.batches_sent;
  } else {
    stats_.messages_dropped_unreachable += n;
  }
}

TransportStats LocalTransport::stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return stats_;
}

}  // namespace sluice::transport
