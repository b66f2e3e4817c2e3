// Internal to the simulator: the Simulation class shared by sim.cc (network, storage, faults,
// safety checks) and sim_ops.cc (client operations: membership changes, leadership transfer,
// ReadIndex reads and their linearizability check). Single-threaded.
#ifndef SLUICE_TESTS_SIM_SIM_INTERNAL_H_
#define SLUICE_TESTS_SIM_SIM_INTERNAL_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/ids.h"
#include "base/rng.h"
#include "cluster/raft/rawnode.h"
#include "cluster/raft/storage.h"
#include "tests/sim/sim.h"

namespace sluice::sim::internal {

struct Envelope {
  int64_t deliver_at_ms;
  uint64_t seq;  // tie-break: deterministic order
  raft::Message msg;
  uint64_t sender_incarnation;
  bool dropped;  // decided at send time; kept only to report a failed snapshot
  bool operator>(const Envelope& o) const {
    return deliver_at_ms != o.deliver_at_ms ? deliver_at_ms > o.deliver_at_ms : seq > o.seq;
  }
};

// A ReadState this node received, served once it has applied up to `index`.
struct WaitingRead {
  LogIndex index;
  uint64_t read_id;
};

struct SimNode {
  NodeId id;
  std::unique_ptr<raft::MemoryStorage> storage;  // durable (synced) state only; null: never joined
  std::unique_ptr<raft::RawNode> raw;            // null while crashed
  std::optional<raft::Ready> pending;            // handed out, write not yet synced
  int64_t pending_done_ms = 0;
  uint64_t incarnation = 0;
  int64_t tick_phase_ms = 0;
  // Volatile state machine.
  LogIndex applied;
  uint64_t hash = 0;
  std::vector<WaitingRead> reads;  // volatile: lost in a crash
  // Largest term this node put on the wire: its durable term may never be lower.
  Term max_sent_term;
  // Its removal from the group was committed: stopped for good (ids are never reused).
  bool removed = false;
  bool up() const { return raw != nullptr; }
  bool joined() const { return storage != nullptr; }
};

struct HistoryEntry {
  Term term;
  std::string data;
  uint64_t hash_after;  // state-machine hash after applying it
};

// A ReadIndex request: every index committed anywhere when it was made must be covered.
struct ReadRequest {
  NodeId node;
  LogIndex committed_at_request;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const SimOptions& o, SimStats* stats);
  absl::Status Run();

 private:
  // sim.cc
  absl::Status Fail(const std::string& what);
  SimNode& node(NodeId id) { return nodes_[id.value() - 1]; }
  void Start(SimNode& n);
  void Crash(SimNode& n);
  void Faults();
  absl::Status CheckRestart(SimNode& n);
  void Propose();
  void Heal();
  absl::Status CheckLiveness();
  void Send(SimNode& from, std::vector<raft::Message> msgs);
  absl::Status Deliver(Envelope& e);
  absl::Status CheckStepError(const raft::Message& m, const absl::Status& st);
  absl::Status Sync(SimNode& n);
  absl::Status ApplyEntry(SimNode& n, const raft::Entry& e);
  absl::Status Step();
  absl::Status CheckLeaders();

  // sim_ops.cc
  SimNode* Leader();
  void ClientOps();
  void ChangeMembership();
  void AddLearner(SimNode& leader, const raft::ConfState& cs);
  void Promote(SimNode& leader, const raft::ConfState& cs);
  void Remove(SimNode& leader, const raft::ConfState& cs);
  void TransferLeadership();
  void RequestRead();
  void ApplyConfChange(SimNode& n, const raft::Entry& e);
  void StopRemovedNodes();
  absl::Status ReceiveReadStates(SimNode& n, const std::vector<raft::ReadState>& states);
  absl::Status ServeReads(SimNode& n);
  void TrackCommitted();

  const uint64_t seed_;
  const SimOptions o_;
  SimStats* stats_;
  SeededRng rng_;  // the only source of randomness
  bool pre_vote_, check_quorum_;
  uint64_t max_inflight_msgs_, max_size_per_msg_, compact_every_, drop_pct_, dup_pct_;
  uint64_t max_learner_lag_entries_;
  int64_t max_delay_ms_, max_disk_ms_;
  raft::ConfState initial_conf_;  // a joining node starts from it and replays the log
  std::vector<SimNode> nodes_;    // slot id-1; slots beyond o_.nodes join later (or never)
  std::priority_queue<Envelope, std::vector<Envelope>, std::greater<Envelope>> inflight_;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;  // (from, to)
  std::map<LogIndex, HistoryEntry> history_;         // everything ever committed
  std::map<Term, NodeId> leaders_;
  std::set<NodeId> to_remove_;  // removal committed this step; stopped at its end
  std::map<uint64_t, ReadRequest> reads_;  // outstanding ReadIndex requests by id
  LogIndex max_committed_;                 // largest commit index any node has reported
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t next_proposal_ = 0;
  uint64_t next_read_ = 0;
  bool healed_ = false;
  bool leader_kept_after_removal_ = false;  // checked in CheckLeaders
  std::string marker_;
  bool marker_applied_ = false;
  absl::Status restart_error_;
};

}  // namespace sluice::sim::internal

#endif  // SLUICE_TESTS_SIM_SIM_INTERNAL_H_
