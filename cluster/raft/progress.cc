#include "cluster/raft/progress.h"

#include <algorithm>
#include <sstream>

namespace sluice::raft {

void Progress::ResetState(ProgressState s) {
  msg_app_flow_paused = false;
  pending_snapshot = LogIndex(0);
  state = s;
  inflights.Reset();
}

void Progress::Reset(LogIndex next_index) {
  ResetState(ProgressState::kProbe);
  match = LogIndex(0);
  next = next_index;
  recent_active = false;
}

void Progress::BecomeProbe() {
  if (state == ProgressState::kSnapshot) {
    // After a snapshot, the follower has at least the snapshot: resume probing after it.
    const LogIndex pending = pending_snapshot;
    ResetState(ProgressState::kProbe);
    next = std::max(match.Next(), pending.Next());
  } else {
    ResetState(ProgressState::kProbe);
    next = match.Next();
  }
}

void Progress::BecomeReplicate() {
  ResetState(ProgressState::kReplicate);
  next = match.Next();
}

void Progress::BecomeSnapshot(LogIndex snapshot_index) {
  ResetState(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

void Progress::UpdateOnEntriesSend(uint64_t entries, uint64_t bytes, LogIndex next_index) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entries > 0) {
        const LogIndex last(next_index.value() + entries - 1);
        next = last.Next();  // optimistic: pipeline the next MsgApp without waiting
        inflights.Add(last, bytes);
      }
      break;
    case ProgressState::kProbe:
      if (entries > 0) msg_app_flow_paused = true;
      break;
    case ProgressState::kSnapshot:
      break;
  }
}

bool Progress::MaybeUpdate(LogIndex n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    msg_app_flow_paused = false;
  }
  next = std::max(next, n.Next());
  return updated;
}

bool Progress::MaybeDecrTo(LogIndex rejected, LogIndex match_hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection at or below match is stale (reordered); otherwise restart after match.
    if (rejected <= match) return false;
    next = match.Next();
    return true;
  }
  // In probe state only the answer to the latest probe (at next-1) counts.
  if (next.Prev() != rejected) return false;
  next = std::max(std::min(rejected, match_hint.Next()), LogIndex(1));
  msg_app_flow_paused = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe: return msg_app_flow_paused;
    case ProgressState::kReplicate: return inflights.Full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

std::string Progress::ToString() const {
  static const char* kNames[] = {"Probe", "Replicate", "Snapshot"};
  std::ostringstream os;
  os << kNames[static_cast<int>(state)] << " match=" << match << " next=" << next;
  if (is_learner) os << " learner";
  if (state == ProgressState::kSnapshot) os << " pending_snap=" << pending_snapshot;
  if (!recent_active) os << " inactive";
  if (inflights.Count() > 0) os << " inflight=" << inflights.Count();
  if (inflights.Full()) os << "[full]";
  return os.str();
}

}  // namespace sluice::raft
