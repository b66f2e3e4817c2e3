// Network: an in-memory cluster of Raft state machines for unit tests, after etcd's `network`.
// Send() delivers messages breadth-first until none remain, so one call runs a protocol
// exchange to quiescence. Links can be cut, nodes isolated, message types ignored, and
// Recover() undoes all of it. Raft-level (no RawNode): unstable entries stay in each node's
// log unless Persist() is called. Test-only; single-threaded; deterministic for a seed.
#ifndef SLUICE_CLUSTER_RAFT_TESTING_NETWORK_H_
#define SLUICE_CLUSTER_RAFT_TESTING_NETWORK_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/rng.h"
#include "cluster/raft/raft.h"
#include "cluster/raft/storage.h"

namespace sluice::raft::testing {

struct NetworkOptions {
  bool pre_vote = false;
  bool check_quorum = false;
  int election_tick = 10;
  int heartbeat_tick = 1;
  uint64_t max_size_per_msg = kNoLimit;
  uint64_t max_inflight_msgs = 256;
  uint64_t max_learner_lag_entries = 1000;
  uint64_t seed = 1;
};

// Shorthand for NodeId(n).
inline NodeId N(uint64_t n) { return NodeId(n); }

class Network {
 public:
  // Nodes 1..n, all voters.
  explicit Network(int n, NetworkOptions options = {});
  // The given voters and learners (each node starts with that membership).
  Network(std::vector<NodeId> voters, std::vector<NodeId> learners, NetworkOptions options = {});

  // Adds a node with empty storage that knows no membership (it learns it by snapshot).
  void AddEmptyNode(NodeId id);
  // Adds a node whose storage starts with membership `cs`.
  void AddNode(NodeId id, const ConfState& cs);
  // Removes a node (crash without restart); messages to it are dropped.
  void RemoveNode(NodeId id);

  void Send(std::vector<Message> msgs);
  void Send(Message m) { Send(std::vector<Message>{std::move(m)}); }
  void Campaign(NodeId id);
  // Proposes on `id` and delivers everything; returns the Step status.
  absl::Status Propose(NodeId id, std::string data);
  absl::Status ProposeConfChange(NodeId id, const ConfChange& cc);
  // Ticks `id` `n` times, delivering what each tick produces.
  void Tick(NodeId id, int n = 1);

  void Cut(NodeId a, NodeId b);
  void Isolate(NodeId id);
  // Drops messages from -> to with probability percent/100.
  void Drop(NodeId from, NodeId to, int percent);
  void Ignore(MessageType type) { ignored_.insert(type); }
  void Recover();

  // Writes each node's pending snapshot and unstable entries to its storage (as a Ready would).
  void Persist(NodeId id);
  void PersistAll();
  // Applies committed entries on every node, conf changes included (ApplyConfChange).
  void ApplyAll();

  Raft& peer(NodeId id) { return *peers_.at(id); }
  MemoryStorage& storage(NodeId id) { return *storage_.at(id); }
  bool Has(NodeId id) const { return peers_.count(id) > 0; }
  // Every message delivered so far (after filtering), for assertions.
  const std::vector<Message>& delivered() const { return delivered_; }
  void ClearDelivered() { delivered_.clear(); }
  Config MakeConfig(NodeId id, MemoryStorage* storage);

 private:
  std::vector<Message> Filter(std::vector<Message> msgs);

  NetworkOptions options_;
  SeededRng rng_;
  std::map<NodeId, std::unique_ptr<MemoryStorage>> storage_;
  std::map<NodeId, std::unique_ptr<Raft>> peers_;
  std::map<std::pair<NodeId, NodeId>, int> drop_percent_;
  std::set<MessageType> ignored_;
  std::vector<Message> delivered_;
};

}  // namespace sluice::raft::testing

#endif  // SLUICE_CLUSTER_RAFT_TESTING_NETWORK_H_
