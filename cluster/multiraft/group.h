// Internal to MultiRaft: the driver's per-group state. Owned and used by the driver thread only.
#ifndef SLUICE_CLUSTER_MULTIRAFT_GROUP_H_
#define SLUICE_CLUSTER_MULTIRAFT_GROUP_H_

#include <memory>

#include "base/rng.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/raft/rawnode.h"

namespace sluice::multiraft {

struct MultiRaft::Group {
  GroupId id;
  raftstore::GroupStorage* log = nullptr;
  std::unique_ptr<SeededRng> rng;
  std::unique_ptr<raft::RawNode> raw;
  raft::ConfState conf_state;
  LogIndex applied;
  raft::SoftState soft;
  // A membership change was applied: snapshot now, so that the latest snapshot always carries
  // the current membership (a node added after it could not install an older one).
  bool snapshot_due = false;
  // StateMachine::RetainedFrom at the last compaction attempt.
  LogIndex retained_from;
};

}  // namespace sluice::multiraft

#endif  // SLUICE_CLUSTER_MULTIRAFT_GROUP_H_
