#include "tests/sim/sim_transport.h"

#include <utility>

namespace sluice::sim {

SimNetwork::SimNetwork(Rng* rng, const Clock* clock, uint64_t inflight_msgs_max)
    : rng_(rng), clock_(clock), inflight_msgs_max_(inflight_msgs_max) {}

void SimNetwork::Register(NodeId id, SimTransport* t) { nodes_[id] = t; }

void SimNetwork::Unregister(NodeId id, SimTransport* t) {
  auto it = nodes_.find(id);
  if (it != nodes_.end() && it->second == t) nodes_.erase(it);
}

SimTransport* SimNetwork::Find(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second;
}

void SimNetwork::Send(NodeId from, NodeId to, std::vector<transport::GroupMessage> batch) {
  const int64_t now_ms = clock_->NowMs();
  for (transport::GroupMessage& gm : batch) {
    ++stats_.sent;
    const bool snap = gm.message.type == raft::MessageType::kSnap;
    if (snap) ++stats_.snapshots;
    bool lost = false;
    if (blocked(from, to)) {
      ++stats_.dropped_blocked;
      lost = true;
    } else if (rng_->Uniform(100) < faults_.drop_pct) {
      ++stats_.dropped_loss;
      lost = true;
    }
    if (lost) {
      if (snap) {
        if (SimTransport* sender = Find(from); sender && sender->handler_) {
          sender->handler_->HandleSnapshotStatus(gm.group, to, false);
        }
      }
      continue;
    }
    const int copies = rng_->Uniform(100) < faults_.dup_pct ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      if (queue_.size() >= inflight_msgs_max_) {
        ++stats_.dropped_queue_full;
        continue;
      }
      if (c > 0) ++stats_.duplicated;
      const int64_t delay_ms =
          1 + static_cast<int64_t>(rng_->Uniform(static_cast<uint64_t>(faults_.delay_ms_max)));
      queue_.push(InFlight{now_ms + delay_ms, seq_++, from, to, gm});
    }
  }
}

void SimNetwork::DeliverDue() {
  const int64_t now_ms = clock_->NowMs();
  std::set<std::pair<NodeId, NodeId>> unreachable_reported;
  while (!queue_.empty() && queue_.top().deliver_at_ms <= now_ms) {
    InFlight m = queue_.top();
    queue_.pop();
    const bool snap = m.message.message.type == raft::MessageType::kSnap;
    SimTransport* receiver = Find(m.to);
    SimTransport* sender = Find(m.from);
    bool delivered = false;
    if (blocked(m.from, m.to)) {
      ++stats_.dropped_blocked;
    } else if (receiver == nullptr || receiver->handler_ == nullptr) {
      ++stats_.dropped_down;
      if (sender && sender->handler_ && unreachable_reported.insert({m.from, m.to}).second) {
        sender->handler_->HandleUnreachable(m.to);
      }
    } else {
      ++stats_.delivered;
      ++receiver->stats_.messages_received;
      delivered = true;
      std::vector<transport::GroupMessage> one;
      one.push_back(m.message);
      receiver->handler_->HandleMessages(m.from, std::move(one));
    }
    if (snap && sender && sender->handler_) {
      sender->handler_->HandleSnapshotStatus(m.message.group, m.to, delivered);
    }
  }
}

absl::Status SimTransport::Start(transport::TransportHandler* handler) {
  handler_ = handler;
  network_->Register(self_, this);
  return absl::OkStatus();
}

void SimTransport::Stop() {
  network_->Unregister(self_, this);
  handler_ = nullptr;
}

void SimTransport::Send(NodeId to, std::vector<transport::GroupMessage> batch) {
  stats_.messages_sent += batch.size();
  ++stats_.batches_sent;
  network_->Send(self_, to, std::move(batch));
}

}  // namespace sluice::sim
