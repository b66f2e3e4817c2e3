// Config: everything a Raft node is told at start, every limit named. Value type.
#ifndef SLUICE_CLUSTER_RAFT_CONFIG_H_
#define SLUICE_CLUSTER_RAFT_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "base/ids.h"
#include "base/rng.h"
#include "cluster/raft/read_only.h"
#include "cluster/raft/storage.h"

namespace sluice::raft {

struct Config {
  NodeId id;
  // A follower that hears nothing from a leader for a random number of ticks in
  // [election_tick, 2*election_tick) starts an election. Must be > heartbeat_tick.
  int election_tick = 10;
  // A leader sends heartbeats every heartbeat_tick ticks.
  int heartbeat_tick = 1;
  // Not owned; must outlive the node. Read-only to the core.
  LogStorage* storage = nullptr;
  // Not owned; must outlive the node. The only source of randomness (election timeouts).
  Rng* rng = nullptr;
  // Last index applied to the state machine before a restart; committed entries after it are
  // delivered again.
  LogIndex applied;
  // Limits (see README "limits"): bytes of entries per MsgApp (at least one entry is sent),
  // MsgApp outstanding per follower, their payload bytes (0 = no byte limit), payload bytes
  // proposed but not committed on the leader (beyond it proposals are dropped; 0 = none), and
  // bytes of committed entries per Ready.
  uint64_t max_size_per_msg = 1 << 20;
  uint64_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 0;
  uint64_t max_uncommitted_entries_size = 0;
  uint64_t max_committed_size_per_ready = 0;  // 0 = max_size_per_msg
  // A leader that has not heard from a quorum within an election timeout steps down; a follower
  // that heard from a leader within an election timeout ignores votes (leader stickiness).
  bool check_quorum = false;
  // Run a pre-election (which does not bump terms) before a real one, so a node that was
  // partitioned away cannot disrupt the cluster when it returns.
  bool pre_vote = false;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // A learner may be promoted to voter (kAddNode) only once the leader knows it holds the log up
  // to at most this many entries behind the leader's last index; otherwise the proposal is
  // dropped. A voter that cannot yet vote on a current log would make the group wait for it.
  // kAddNode of a node that is not a learner yet is always dropped: add it as a learner first.
  uint64_t max_learner_lag_entries = 1000;

  // InvalidArgument describing the first bad field.
  absl::Status Validate() const;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_CONFIG_H_
