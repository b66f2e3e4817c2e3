// Linearizable reads (ReadIndex): the request context is a proposal envelope (node, incarnation,
// sequence) so that it is unique across the group -- the leader keys pending reads by it -- and
// a read state from an earlier process run is never mistaken for one of ours.
#include <utility>

#include "cluster/multiraft/group.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/raft/rawnode.h"

namespace sluice::multiraft {

void MultiRaft::ReadIndex(GroupId group, ProposeCallback done) {
  PostRequest(std::move(done),
              [this, group](ProposeCallback d) mutable { ReadOnDriver(group, std::move(d)); });
}

std::future<absl::StatusOr<LogIndex>> MultiRaft::ReadIndex(GroupId group) {
  auto p = std::make_shared<std::promise<absl::StatusOr<LogIndex>>>();
  auto f = p->get_future();
  ReadIndex(group, [p](absl::StatusOr<LogIndex> r) { p->set_value(std::move(r)); });
  return f;
}

void MultiRaft::ReadOnDriver(GroupId group, ProposeCallback done) {
  if (shutting_down_) {
    ++driver_stats_.reads_failed;
    return done(absl::CancelledError("multiraft: stopped before reading"));
  }
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    ++driver_stats_.reads_failed;
    return done(absl::NotFoundError("multiraft: no such group"));
  }
  if (pending_.size() + pending_reads_.size() >= options_.pending_proposals_max) {
    ++driver_stats_.reads_failed;
    return done(absl::ResourceExhaustedError("multiraft: too many pending requests"));
  }
  const ProposalId id{options_.self, incarnation_, next_sequence_++};
  const absl::Status st = it->second->raw->ReadIndex(EncodeProposal(id, {}));
  if (!st.ok()) {
    ++driver_stats_.reads_failed;
    return done(st);
  }
  pending_reads_.emplace(id.sequence,
                         PendingRead{group, std::move(done),
                                     clock_->NowMs() + options_.proposal_timeout_ms, std::nullopt});
}

void MultiRaft::HandleReadStates(Group& g, const std::vector<raft::ReadState>& states) {
  for (const raft::ReadState& rs : states) {
    absl::StatusOr<DecodedProposal> p = DecodeProposal(rs.request_ctx);
    if (!p.ok() || p->id.proposer != options_.self || p->id.incarnation != incarnation_) continue;
    auto it = pending_reads_.find(p->id.sequence);
    if (it == pending_reads_.end() || it->second.group != g.id) continue;  // already failed
    it->second.index = rs.index;
  }
}

void MultiRaft::CompleteReads(const Group& g) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    const PendingRead& r = it->second;
    if (r.group != g.id || !r.index || *r.index > g.applied) {
      ++it;
      continue;
    }
    ProposeCallback done = std::move(it->second.done);
    const LogIndex index = *r.index;
    it = pending_reads_.erase(it);
    ++driver_stats_.reads_completed;
    done(index);
  }
}

void MultiRaft::ExpireReads(int64_t now_ms) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline_ms > now_ms) {
      ++it;
      continue;
    }
    ProposeCallback done = std::move(it->second.done);
    it = pending_reads_.erase(it);
    ++driver_stats_.reads_failed;
    done(absl::DeadlineExceededError("multiraft: read index not confirmed and applied in time"));
  }
}

void MultiRaft::FailUnconfirmedReads(const Group& g, const absl::Status& why) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.group != g.id || it->second.index) {
      ++it;
      continue;
    }
    ProposeCallback done = std::move(it->second.done);
    it = pending_reads_.erase(it);
    ++driver_stats_.reads_failed;
    done(why);
  }
}

void MultiRaft::CancelReads() {
  std::map<uint64_t, PendingRead> reads;
  reads.swap(pending_reads_);
  for (auto& [seq, r] : reads) r.done(absl::CancelledError("multiraft: stopped"));
}

}  // namespace sluice::multiraft
