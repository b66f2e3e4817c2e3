// StateMachine: what a MultiRaft applies committed entries to. One instance serves every group
// of a node. All calls come from the MultiRaft driver thread, one at a time, so an
// implementation needs no locking of its own unless other threads read it.
#ifndef SLUICE_CLUSTER_MULTIRAFT_STATE_MACHINE_H_
#define SLUICE_CLUSTER_MULTIRAFT_STATE_MACHINE_H_

#include <string>
#include <string_view>

#include "base/ids.h"

namespace sluice::multiraft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies the committed proposal at `index` of `group`. Indexes increase by exactly one
  // between calls for a group, except across Restore and for log positions that carry no
  // proposal (a new leader's empty entry, membership changes), which are skipped. After a
  // restart, entries after the last snapshot are applied again, so the state machine must
  // start from the image given to Restore (or empty when there is none).
  virtual void Apply(GroupId group, LogIndex index, std::string_view data) = 0;
  // Ends a run of Apply calls (the committed entries of one group's Ready): a state machine
  // may buffer what Apply did and write it here in one go. Proposals of the run complete, and
  // reads are served, only after this returns.
  virtual void EndApplyBatch() {}
  // An image of `group`'s state with everything applied so far (for a snapshot).
  virtual std::string TakeSnapshot(GroupId group) = 0;
  // Replaces `group`'s state with `image`, taken at `index` (restart, or a snapshot received
  // from the leader).
  virtual void Restore(GroupId group, LogIndex index, std::string_view image) = 0;
  // The first log entry the state machine still reads after applying it (a partitioned log
  // whose records live in their entries): the driver never compacts the log at or past it.
  // The default, the largest index, leaves compaction to the driver's snapshots alone.
  virtual LogIndex RetainedFrom(GroupId group) const {
    return LogIndex(~uint64_t{0});
  }
};

}  // namespace sluice::multiraft

#endif  // SLUICE_CLUSTER_MULTIRAFT_STATE_MACHINE_H_
