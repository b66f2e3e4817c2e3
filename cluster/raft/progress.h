// Progress: the leader's view of one follower's log. A follower is in one of three states:
//   kProbe:     we do not know where its log matches ours; send one MsgApp per heartbeat
//               interval and back off on rejection.
//   kReplicate: it is keeping up; send optimistically (pipelining) up to the inflights window.
//   kSnapshot:  it needs a snapshot we have sent; send nothing until it reports back.
// Owned by ProgressTracker. Thread-compatible.
#ifndef SLUICE_CLUSTER_RAFT_PROGRESS_H_
#define SLUICE_CLUSTER_RAFT_PROGRESS_H_

#include <string>

#include "base/ids.h"
#include "cluster/raft/inflights.h"

namespace sluice::raft {

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };

class Progress {
 public:
  Progress(LogIndex next, uint64_t max_inflight_msgs, uint64_t max_inflight_bytes, bool learner)
      : next(next), inflights(max_inflight_msgs, max_inflight_bytes), is_learner(learner) {}

  // Forgets everything learned about the follower (new term): probe from `next`.
  void Reset(LogIndex next);
  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(LogIndex snapshot_index);
  // A MsgApp with `entries` entries (payload `bytes`), the first at `next_index`, was sent.
  void UpdateOnEntriesSend(uint64_t entries, uint64_t bytes, LogIndex next_index);
  // The follower acknowledged index n; returns whether match advanced.
  bool MaybeUpdate(LogIndex n);
  // The follower rejected an append at `rejected`; its log may match at `match_hint`.
  // Returns false if the rejection is stale.
  bool MaybeDecrTo(LogIndex rejected, LogIndex match_hint);
  // Whether sending MsgApp to this follower should wait (flow control).
  bool IsPaused() const;
  std::string ToString() const;

  LogIndex match;
  LogIndex next;
  ProgressState state = ProgressState::kProbe;
  LogIndex pending_snapshot;  // kSnapshot: index of the snapshot sent
  // Heard from since the last check-quorum round (or ever, without check-quorum).
  bool recent_active = false;
  // kProbe: a probe is outstanding; wait for its answer or the next heartbeat response.
  bool msg_app_flow_paused = false;
  Inflights inflights;
  bool is_learner = false;

 private:
  void ResetState(ProgressState state);
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_PROGRESS_H_
