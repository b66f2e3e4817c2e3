// ProgressTracker: the membership (voters and learners), a Progress per member, and the votes of
// the current election. Membership changes one member at a time (ApplyConfChange), which keeps
// any two successive majorities overlapping. Owned by Raft. Thread-compatible.
#ifndef SLUICE_CLUSTER_RAFT_TRACKER_H_
#define SLUICE_CLUSTER_RAFT_TRACKER_H_

#include <functional>
#include <map>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "base/ids.h"
#include "cluster/raft/progress.h"
#include "cluster/raft/quorum.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

class ProgressTracker {
 public:
  ProgressTracker(uint64_t max_inflight_msgs, uint64_t max_inflight_bytes);

  // Replaces the membership with `cs`; every member's progress starts at next = `next`.
  void Restore(const ConfState& cs, LogIndex next);
  // Applies one change. InvalidArgument for a no-op id 0. `next` is where a new member's
  // replication starts (the leader's last index + 1).
  absl::Status ApplyConfChange(const ConfChange& cc, LogIndex next);
  ConfState GetConfState() const;

  // Largest index replicated on a majority of voters.
  LogIndex Committed() const;
  // Whether a majority of voters was recently active (self counts if a voter and marked).
  bool QuorumActive() const;
  bool IsSingleton() const { return voters_.size() == 1 && learners_.empty(); }

  void ResetVotes() { votes_.clear(); }
  // Records id's vote (the first one counts).
  void RecordVote(NodeId id, bool granted);
  struct Tally {
    size_t granted = 0;
    size_t rejected = 0;
    VoteResult result = VoteResult::kPending;
  };
  Tally TallyVotes() const;

  Progress* Find(NodeId id);
  const Progress* Find(NodeId id) const;
  // Visits every member (voters and learners) in id order.
  void Visit(const std::function<void(NodeId, Progress&)>& f);
  const MajorityConfig& voters() const { return voters_; }
  const std::set<NodeId>& learners() const { return learners_; }
  bool IsVoter(NodeId id) const { return voters_.Contains(id); }
  const std::map<NodeId, Progress>& progress() const { return progress_; }

 private:
  void AddProgress(NodeId id, LogIndex next, bool learner);

  uint64_t max_inflight_msgs_;
  uint64_t max_inflight_bytes_;
  MajorityConfig voters_;
  std::set<NodeId> learners_;
  // std::map, not a hash map: iteration order must not vary between runs (simulator replay).
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_TRACKER_H_
