// Following a leader: appends, heartbeats, snapshots, and forwarding client requests.
#include <algorithm>

#include "base/check.h"
#include "cluster/raft/raft.h"

namespace sluice::raft {

absl::Status Raft::StepFollower(Message& m) {
  switch (m.type) {
    case MessageType::kProp:
      if (lead_ == kNoNode) return ProposalDroppedError("no leader");
      if (disable_proposal_forwarding_) return ProposalDroppedError("forwarding disabled");
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTransferLeader:
      if (lead_ == kNoNode) return ProposalDroppedError("no leader to transfer from");
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kTimeoutNow:
      // The leader asks us to campaign now, skipping pre-vote and stickiness.
      Hup(CampaignType::kTransfer);
      break;
    case MessageType::kReadIndex:
      if (lead_ == kNoNode) return ProposalDroppedError("no leader");
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kReadIndexResp:
      if (m.entries.size() != 1) break;
      read_states_.push_back(ReadState{m.index, m.entries[0].data});
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendEntries(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Stale (reordered or duplicated): everything up to our commit matches the leader's log.
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  if (std::optional<LogIndex> last_new =
          log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last_new;
    Send(std::move(resp));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.log_term. Every entry
  // of ours between it and m.index has a term the leader's log cannot have there, so the
  // leader can skip them all at once instead of one probe per entry.
  const LogIndex hint_index = std::min(m.index, log_.LastIndex());
  auto [idx, term] = log_.FindConflictByTerm(hint_index, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = idx;
  resp.log_term = term;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(m.commit);
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  SLUICE_CHECK(m.snapshot.has_value());
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  resp.index = Restore(*m.snapshot) ? log_.LastIndex() : log_.committed();
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& snap) {
  const SnapshotMetadata& meta = snap.metadata;
  if (meta.index <= log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Only a leader of our term sends snapshots, and that made us a follower; anything else
    // is a protocol bug elsewhere. Be defensive: move on to a new term.
    BecomeFollower(term_.Next(), kNoNode);
    return false;
  }
  // A snapshot whose membership does not include us would make us forget our own identity.
  const bool member =
      std::find(meta.conf_state.voters.begin(), meta.conf_state.voters.end(), id_) !=
          meta.conf_state.voters.end() ||
      std::find(meta.conf_state.learners.begin(), meta.conf_state.learners.end(), id_) !=
          meta.conf_state.learners.end();
  if (!member) return false;
  // We already have the entry at the snapshot point: just fast-forward commit.
  if (log_.MatchTerm(meta.index, meta.term)) {
    log_.CommitTo(meta.index);
    return false;
  }
  log_.Restore(snap);
  trk_.Restore(meta.conf_state, log_.LastIndex().Next());
  Progress* self = trk_.Find(id_);
  is_learner_ = self->is_learner;
  self->MaybeUpdate(self->next.Prev());
  return true;
}

}  // namespace sluice::raft
