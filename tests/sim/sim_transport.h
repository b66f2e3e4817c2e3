// SimNetwork: the simulated network of the log simulator (log_sim.h), and SimTransport, the
// transport::Transport each simulated node's MultiRaft talks to (TigerBeetle's
// packet_simulator in spirit).
//
// Send never delivers at once: every message is queued with a delivery time of 1 to
// `delay_ms_max` simulated milliseconds later (so messages reorder), may be lost
// (`drop_pct`) or duplicated (`dup_pct`), and is dropped when its link is blocked -- at send
// time or when it falls due (a partition that starts while a message is in flight cuts it).
// Links are blocked one way (asymmetric) or both ways (symmetric partitions). DeliverDue()
// hands every message that is due to its receiver's handler, one message per
// HandleMessages call, in (delivery time, send order) -- a deterministic order. A message to
// a node that is down is dropped and its sender hears HandleUnreachable (once per link per
// DeliverDue). kSnap messages are reported to the sender (HandleSnapshotStatus) when
// delivered or lost, and counted: the log simulator expects none (see log_sim.h).
//
// Limits: at most `inflight_msgs_max` messages in flight; beyond that new ones are dropped and
// counted (`dropped_queue_full`).
//
// Randomness comes only from the Rng given at construction, time only from the Clock.
// Single-threaded: everything (Send from inside a node's RunOnce, DeliverDue, the fault
// controls) runs on the simulator's thread. Not thread-safe.
#ifndef SLUICE_TESTS_SIM_SIM_TRANSPORT_H_
#define SLUICE_TESTS_SIM_SIM_TRANSPORT_H_

#include <cstdint>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/rng.h"
#include "cluster/transport/transport.h"

namespace sluice::sim {

struct NetworkFaults {
  uint64_t drop_pct = 0;   // per message, percent
  uint64_t dup_pct = 0;    // per message, percent
  int64_t delay_ms_max = 1;  // >= 1
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t duplicated = 0;
  uint64_t dropped_loss = 0;
  uint64_t dropped_blocked = 0;
  uint64_t dropped_down = 0;
  uint64_t dropped_queue_full = 0;
  uint64_t snapshots = 0;  // kSnap messages sent
};

class SimTransport;

class SimNetwork {
 public:
  // Neither owned; both must outlive the network.
  SimNetwork(Rng* rng, const Clock* clock, uint64_t inflight_msgs_max);

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }
  // Messages from `from` to `to` are dropped (one direction) until HealAll.
  void Block(NodeId from, NodeId to) { blocked_.insert({from, to}); }
  void HealAll() { blocked_.clear(); }
  bool blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) > 0; }

  // Hands every message due by now to its receiver (see the header comment).
  void DeliverDue();
  size_t inflight() const { return queue_.size(); }
  const NetworkStats& stats() const { return stats_; }

 private:
  friend class SimTransport;
  struct InFlight {
    int64_t deliver_at_ms;
    uint64_t seq;  // send order: the tie-break that keeps the order deterministic
    NodeId from, to;
    transport::GroupMessage message;
    bool operator>(const InFlight& o) const {
      return deliver_at_ms != o.deliver_at_ms ? deliver_at_ms > o.deliver_at_ms : seq > o.seq;
    }
  };
  void Register(NodeId id, SimTransport* t);
  void Unregister(NodeId id, SimTransport* t);
  void Send(NodeId from, NodeId to, std::vector<transport::GroupMessage> batch);
  SimTransport* Find(NodeId id) const;

  Rng* rng_;
  const Clock* clock_;
  const uint64_t inflight_msgs_max_;
  NetworkFaults faults_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  std::map<NodeId, SimTransport*> nodes_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<InFlight>> queue_;
  uint64_t seq_ = 0;
  NetworkStats stats_;
};

// One node's endpoint. A crashed node's transport is destroyed with it; the restarted node
// gets a new one (messages still in flight to it are delivered to the new one, like packets
// that arrive after a restart).
class SimTransport final : public transport::Transport {
 public:
  SimTransport(SimNetwork* network, NodeId self) : network_(network), self_(self) {}
  ~SimTransport() override { Stop(); }

  absl::Status Start(transport::TransportHandler* handler) override;
  void Stop() override;
  void AddPeer(NodeId, const std::string&) override {}
  void RemovePeer(NodeId) override {}
  void Send(NodeId to, std::vector<transport::GroupMessage> batch) override;
  transport::TransportStats stats() const override { return stats_; }

 private:
  friend class SimNetwork;
  SimNetwork* network_;  // not owned
  NodeId self_;
  transport::TransportHandler* handler_ = nullptr;  // not owned; null unless started
  transport::TransportStats stats_;
};

}  // namespace sluice::sim

#endif  // SLUICE_TESTS_SIM_SIM_TRANSPORT_H_
