// MultiRaft, proposals on the driver: each turn's normal proposals are batched per group
// (FlushProposals), and with forward_proposals those made while the group knows no leader
// wait here, in order, until one is known (ReleaseHeld) or their deadline passes.
#include <deque>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "base/check.h"
#include "cluster/multiraft/group.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/raft/rawnode.h"

namespace sluice::multiraft {

void MultiRaft::ProposeOnDriver(GroupId group, std::string data, bool conf_change,
                                raft::ConfChange cc, ProposeCallback done) {
  if (shutting_down_) {
    ++driver_stats_.proposals_failed;
    return done(absl::CancelledError("multiraft: stopped before proposing"));
  }
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    ++driver_stats_.proposals_failed;
    return done(absl::NotFoundError("multiraft: no such group"));
  }
  if (pending_.size() + pending_reads_.size() + turn_proposals_count_ + held_count_ >=
      options_.pending_proposals_max) {
    ++driver_stats_.proposals_failed;
    return done(absl::ResourceExhaustedError("multiraft: too many pending proposals"));
  }
  const ProposalId id{options_.self, incarnation_, next_sequence_++};
  if (!conf_change) {
    // Batched until the end of the turn's requests (FlushAllProposals), or until the batch
    // would pass a message's size limit.
    std::string entry = EncodeProposal(id, data);
    ProposalBatch& b = turn_proposals_[group];
    if (!b.items.empty() && b.bytes + entry.size() > options_.max_size_per_msg) FlushProposals(group);
    ProposalBatch& batch = turn_proposals_[group];
    batch.bytes += entry.size();
    batch.items.push_back(Batched{id.sequence, std::move(entry), std::move(done),
                                  clock_->NowMs() + options_.proposal_timeout_ms});
    ++turn_proposals_count_;
    return;
  }
  FlushProposals(group);  // a membership change goes after the appends proposed before it
  cc.context = EncodeProposal(id, {});
  absl::Status st = it->second->raw->ProposeConfChange(cc);
  if (!st.ok()) {
    ++driver_stats_.proposals_failed;
    return done(st);
  }
  pending_.emplace(id.sequence,
                   Pending{group, std::move(done), clock_->NowMs() + options_.proposal_timeout_ms,
                           it->second->raw->raft().lead()});
}

void MultiRaft::FlushProposals(GroupId group) {
  std::vector<Batched> items;
  if (auto b = turn_proposals_.find(group); b != turn_proposals_.end()) {
    items = std::move(b->second.items);
    turn_proposals_.erase(b);  // also when empty: FlushAllProposals loops until none is left
    turn_proposals_count_ -= items.size();
  }
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    driver_stats_.proposals_failed += items.size();
    for (Batched& i : items) i.done(absl::NotFoundError("multiraft: no such group"));
    return;
  }
  Group& g = *it->second;
  // Behind those that already wait, so the log has them in the order they were made.
  if (options_.forward_proposals && (!ReleaseHeld(g) || g.raw->raft().lead() == NodeId())) {
    return Hold(group, std::move(items));
  }
  Submit(g, std::move(items));
}

void MultiRaft::Submit(Group& g, std::vector<Batched> items) {
  if (items.empty()) return;
  std::vector<std::string> entries;
  entries.reserve(items.size());
  // A forwarding node keeps each entry for a second try (Hold below); others need no copy.
  const bool may_hold = options_.forward_proposals;
  for (Batched& i : items) entries.push_back(may_hold ? i.entry : std::move(i.entry));
  absl::Status st = g.raw->ProposeBatch(std::move(entries));
  if (!st.ok() && options_.forward_proposals && raft::IsProposalDropped(st)) {
    // No leader after all, a leadership transfer, or the uncommitted-size limit: not
    // proposed, so it may wait and go again.
    return Hold(g.id, std::move(items));
  }
  if (!st.ok()) {
    driver_stats_.proposals_failed += items.size();
    for (Batched& i : items) i.done(st);
    return;
  }
  const NodeId sent_to = g.raw->raft().lead();
  for (Batched& i : items) {
    pending_.emplace(i.sequence, Pending{g.id, std::move(i.done), i.deadline_ms, sent_to});
  }
}

void MultiRaft::Hold(GroupId group, std::vector<Batched> items) {
  if (items.empty()) return;
  std::deque<Batched>& held = held_[group];
  for (Batched& i : items) {
    if (!i.held) ++driver_stats_.proposals_held;
    i.held = true;
    held.push_back(std::move(i));
  }
  held_count_ += items.size();
  driver_stats_.proposals_held_now = held_count_;
}

bool MultiRaft::ReleaseHeld(Group& g) {
  auto h = held_.find(g.id);
  if (h == held_.end()) return true;
  if (g.raw->raft().lead() == NodeId()) return false;
  std::vector<Batched> items(std::make_move_iterator(h->second.begin()),
                             std::make_move_iterator(h->second.end()));
  held_count_ -= items.size();
  held_.erase(h);
  driver_stats_.proposals_held_now = held_count_;
  Submit(g, std::move(items));
  return held_.count(g.id) == 0;
}

void MultiRaft::ExpireHeld(int64_t now_ms) {
  for (auto h = held_.begin(); h != held_.end();) {
    // Deadlines grow along a group's queue: proposals are held in the order they were made.
    std::deque<Batched>& q = h->second;
    while (!q.empty() && q.front().deadline_ms <= now_ms) {
      ProposeCallback done = std::move(q.front().done);
      q.pop_front();
      --held_count_;
      ++driver_stats_.proposals_failed;
      done(absl::FailedPreconditionError(
          "multiraft: no leader within proposal_timeout_ms; not proposed"));
    }
    h = q.empty() ? held_.erase(h) : std::next(h);
  }
  driver_stats_.proposals_held_now = held_count_;
}

void MultiRaft::CancelHeld() {
  std::map<GroupId, std::deque<Batched>> held;
  held.swap(held_);
  held_count_ = 0;
  driver_stats_.proposals_held_now = 0;
  for (auto& [group, q] : held) {
    for (Batched& i : q) i.done(absl::CancelledError("multiraft: stopped before proposing"));
  }
}

void MultiRaft::FlushAllProposals() {
  // Groups whose held proposals may go now that a leader is known, before this turn's.
  std::vector<GroupId> waiting;
  for (const auto& [group, q] : held_) waiting.push_back(group);
  for (GroupId group : waiting) FlushProposals(group);
  while (!turn_proposals_.empty()) FlushProposals(turn_proposals_.begin()->first);
}

}  // namespace sluice::multiraft
