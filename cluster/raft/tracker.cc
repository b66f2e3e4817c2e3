#include "cluster/raft/tracker.h"

#include "base/check.h"

namespace sluice::raft {

ProgressTracker::ProgressTracker(uint64_t max_inflight_msgs, uint64_t max_inflight_bytes)
    : max_inflight_msgs_(max_inflight_msgs), max_inflight_bytes_(max_inflight_bytes) {}

void ProgressTracker::AddProgress(NodeId id, LogIndex next, bool learner) {
  auto [it, inserted] =
      progress_.try_emplace(id, next, max_inflight_msgs_, max_inflight_bytes_, learner);
  // A new member is presumed active so that check-quorum does not depose the leader before
  // the member had a chance to answer.
  it->second.recent_active = true;
  it->second.is_learner = learner;
}

void ProgressTracker::Restore(const ConfState& cs, LogIndex next) {
  voters_ = MajorityConfig();
  learners_.clear();
  progress_.clear();
  votes_.clear();
  for (NodeId id : cs.voters) {
    voters_.mutable_voters().insert(id);
    AddProgress(id, next, false);
  }
  for (NodeId id : cs.learners) {
    SLUICE_CHECK_MSG(!voters_.Contains(id), "node is both voter and learner");
    learners_.insert(id);
    AddProgress(id, next, true);
  }
}

absl::Status ProgressTracker::ApplyConfChange(const ConfChange& cc, LogIndex next) {
  if (cc.node_id == NodeId(0)) return absl::InvalidArgumentError("conf change for node 0");
  const NodeId id = cc.node_id;
  switch (cc.type) {
    case ConfChangeType::kAddNode:
      if (learners_.erase(id) > 0) {  // promotion keeps the learner's progress
        Progress* pr = Find(id);
        SLUICE_CHECK(pr != nullptr);
        pr->is_learner = false;
      } else if (!Find(id)) {
        AddProgress(id, next, false);
      }
      voters_.mutable_voters().insert(id);
      break;
    case ConfChangeType::kAddLearner:
      if (voters_.mutable_voters().erase(id) > 0) {
        Find(id)->is_learner = true;  // demotion
      } else if (!Find(id)) {
        AddProgress(id, next, true);
      }
      learners_.insert(id);
      break;
    case ConfChangeType::kRemoveNode:
      voters_.mutable_voters().erase(id);
      learners_.erase(id);
      progress_.erase(id);
      votes_.erase(id);
      break;
  }
  return absl::OkStatus();
}

ConfState ProgressTracker::GetConfState() const {
  ConfState cs;
  cs.voters.assign(voters_.voters().begin(), voters_.voters().end());
  cs.learners.assign(learners_.begin(), learners_.end());
  return cs;
}

LogIndex ProgressTracker::Committed() const {
  return voters_.CommittedIndex([this](NodeId id) -> std::optional<LogIndex> {
    const Progress* pr = Find(id);
    if (!pr) return std::nullopt;
    return pr->match;
  });
}

bool ProgressTracker::QuorumActive() const {
  std::map<NodeId, bool> active;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) active[id] = pr.recent_active;
  }
  return voters_.Vote(active) == VoteResult::kWon;
}

void ProgressTracker::RecordVote(NodeId id, bool granted) { votes_.try_emplace(id, granted); }

ProgressTracker::Tally ProgressTracker::TallyVotes() const {
  Tally t;
  for (const auto& [id, granted] : votes_) {
    if (!voters_.Contains(id)) continue;
    if (granted) {
      ++t.granted;
    } else {
      ++t.rejected;
    }
  }
  t.result = voters_.Vote(votes_);
  return t;
}

Progress* ProgressTracker::Find(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::Find(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void ProgressTracker::Visit(const std::function<void(NodeId, Progress&)>& f) {
  for (auto& [id, pr] : progress_) f(id, pr);
}

}  // namespace sluice::raft
