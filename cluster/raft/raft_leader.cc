// The leader: accepting proposals, replicating with flow control, committing, heartbeats,
// ReadIndex and leadership transfer.
#include <algorithm>

#include "base/check.h"
#include "cluster/raft/raft.h"

namespace sluice::raft {

bool Raft::IncreaseUncommittedSize(const std::vector<Entry>& entries) {
  const uint64_t s = PayloadBytes(entries);
  // Always admit something when nothing is outstanding, so one large proposal cannot wedge us;
  // empty entries (the leader's no-op) are always admitted.
  if (uncommitted_size_ > 0 && s > 0 && uncommitted_size_ + s > max_uncommitted_size_) {
    return false;
  }
  uncommitted_size_ += s;
  return true;
}

bool Raft::AppendEntry(std::vector<Entry> entries) {
  const LogIndex li = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = LogIndex(li.value() + 1 + i);
  }
  if (!IncreaseUncommittedSize(entries)) return false;
  const LogIndex last = log_.Append(entries);
  // The leader's own log counts toward the quorum. The owner persists these entries before
  // sending this Ready's messages, so no acknowledgement can precede the leader's write.
  trk_.Find(id_)->MaybeUpdate(last);
  MaybeCommit();
  return true;
}

absl::Status Raft::CheckConfChange(const Entry& e) const {
  absl::StatusOr<ConfChange> cc = ConfChange::Decode(e.data);
  if (!cc.ok()) return absl::InvalidArgumentError("undecodable conf change proposal");
  if (cc->type != ConfChangeType::kAddNode || trk_.IsVoter(cc->node_id)) {
    return absl::OkStatus();
  }
  // Promotion: only a learner that has (nearly) caught up may start voting, or the group would
  // count on a voter that cannot yet vote for an up-to-date candidate or ack new entries.
  const Progress* pr = trk_.Find(cc->node_id);
  if (pr == nullptr) {
    return ProposalDroppedError("only a learner can be promoted: add it as a learner first");
  }
  const uint64_t last = log_.LastIndex().value();
  if (pr->match.value() + max_learner_lag_entries_ < last) {
    return ProposalDroppedError("learner " + std::to_string(cc->node_id.value()) +
                                " is not caught up: match " +
                                std::to_string(pr->match.value()) + ", leader's last index " +
                                std::to_string(last));
  }
  return absl::OkStatus();
}

bool Raft::MaybeCommit() { return log_.MaybeCommit(trk_.Committed(), term_); }

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.ZeroTermOnCompacted(log_.committed()) == term_;
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  Progress* pr = trk_.Find(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  Message m;
  m.to = to;
  absl::StatusOr<Term> prev_term = log_.TermAt(pr->next.Prev());
  absl::StatusOr<std::vector<Entry>> ents = log_.EntriesFrom(pr->next, max_msg_size_);
  if (ents.ok() && ents->empty() && !send_if_empty) return false;
  if (!prev_term.ok() || !ents.ok()) {
    // The entries the follower needs were compacted: send a snapshot instead, but only to a
    // follower we know is alive (a snapshot is expensive).
    if (!pr->recent_active) return false;
    absl::StatusOr<Snapshot> snap = log_.GetSnapshot();
    if (!snap.ok()) {
      SLUICE_CHECK_MSG(IsSnapshotTemporarilyUnavailable(snap.status()), "snapshot failed");
      return false;
    }
    SLUICE_CHECK_MSG(!snap->IsEmpty(), "need a snapshot but storage has none");
    m.type = MessageType::kSnap;
    pr->BecomeSnapshot(snap->metadata.index);
    m.snapshot = *std::move(snap);
  } else {
    m.type = MessageType::kApp;
    m.index = pr->next.Prev();
    m.log_term = *prev_term;
    m.commit = log_.committed();
    const uint64_t n = ents->size();
    pr->UpdateOnEntriesSend(n, PayloadBytes(*ents), pr->next);
    m.entries = *std::move(ents);
  }
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(NodeId to, const std::string& ctx) {
  // Never let a heartbeat commit past what the follower is known to hold: its log may be
  // shorter or diverge beyond its match index.
  const Progress* pr = trk_.Find(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = std::min(pr->match, log_.committed());
  m.context = ctx;
  Send(std::move(m));
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

void Raft::BcastAppend() {
  trk_.Visit([&](NodeId id, Progress&) {
    if (id != id_) SendAppend(id);
  });
}

void Raft::BcastHeartbeat() {
  const std::string ctx = read_only_.LastPendingRequestCtx();
  trk_.Visit([&](NodeId id, Progress&) {
    if (id != id_) SendHeartbeat(id, ctx);
  });
}

absl::Status Raft::StepLeader(Message& m) {
  switch (m.type) {
    case MessageType::kBeat:
      BcastHeartbeat();
      return absl::OkStatus();
    case MessageType::kCheckQuorum:
      if (!trk_.QuorumActive()) BecomeFollower(term_, kNoNode);
      // Start a new round: everyone must be heard from again before the next check.
      trk_.Visit([&](NodeId id, Progress& pr) {
        if (id != id_) pr.recent_active = false;
      });
      return absl::OkStatus();
    case MessageType::kProp: {
      SLUICE_CHECK_MSG(!m.entries.empty(), "empty proposal");
      if (trk_.Find(id_) == nullptr) return ProposalDroppedError("leader was removed");
      if (lead_transferee_ != kNoNode) return ProposalDroppedError("leadership transfer");
      for (size_t i = 0; i < m.entries.size(); ++i) {
        if (m.entries[i].type != EntryType::kConfChange) continue;
        if (pending_conf_index_ > log_.applied()) {
          return ProposalDroppedError("a membership change is still pending");
        }
        if (absl::Status st = CheckConfChange(m.entries[i]); !st.ok()) return st;
        pending_conf_index_ = LogIndex(log_.LastIndex().value() + i + 1);
      }
      if (!AppendEntry(std::move(m.entries))) {
        return ProposalDroppedError("max_uncommitted_entries_size reached");
      }
      BcastAppend();
      return absl::OkStatus();
    }
    case MessageType::kReadIndex:
      return HandleReadIndex(m);
    case MessageType::kTransferLeader:
      HandleTransferLeader(m);
      return absl::OkStatus();
    default:
      break;
  }
  // Everything else is about one follower.
  Progress* pr = trk_.Find(m.from);
  if (pr == nullptr) return absl::OkStatus();
  switch (m.type) {
    case MessageType::kAppResp:
      HandleAppendResponse(m, *pr);
      break;
    case MessageType::kHeartbeatResp:
      HandleHeartbeatResponse(m, *pr);
      break;
    case MessageType::kSnapStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject) pr->pending_snapshot = LogIndex(0);  // failed: probe from match again
      pr->BecomeProbe();
      // Wait for an append response or heartbeat before the next probe.
      pr->msg_app_flow_paused = true;
      break;
    case MessageType::kUnreachable:
      // The optimistic pipeline was probably lost in transit.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject) {
    // Fast backtracking: the follower told us the last index (and its term) where it might
    // match; skip every entry of ours whose term is greater than that, in one round trip.
    LogIndex next_probe = m.reject_hint;
    if (m.log_term > Term(0)) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index)) return;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      // The follower caught up past our compaction point: resume sending entries.
      if (pr.match.Next() >= log_.FirstIndex()) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index);
      break;
  }
  if (MaybeCommit()) {
    BcastAppend();
  } else if (was_paused) {
    SendAppend(m.from);
  }
  // Fill the window as far as flow control allows.
  while (MaybeSendAppend(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from);
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.msg_app_flow_paused = false;
  // The follower is alive; if the window is full, an ack was probably lost: make room so the
  // pipeline cannot stall forever.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.LastIndex()) SendAppend(m.from);

  if (read_only_option_ != ReadOnlyOption::kSafe || m.context.empty()) return;
  const std::map<NodeId, bool>* acks = read_only_.RecvAck(m.from, m.context);
  if (acks == nullptr || trk_.voters().Vote(*acks) != VoteResult::kWon) return;
  for (ReadOnly::Status& rs : read_only_.Advance(m.context)) {
    SendReadIndexResponse(rs.request, rs.index);
  }
}

void Raft::SendReadIndexResponse(const Message& req, LogIndex index) {
  if (req.from == kNoNode || req.from == id_) {
    read_states_.push_back(ReadState{index, req.entries.empty() ? "" : req.entries[0].data});
    return;
  }
  Message resp;
  resp.type = MessageType::kReadIndexResp;
  resp.to = req.from;
  resp.index = index;
  resp.entries = req.entries;
  Send(std::move(resp));
}

absl::Status Raft::HandleReadIndex(Message& m) {
  if (trk_.IsSingleton()) {
    SendReadIndexResponse(m, log_.committed());
    return absl::OkStatus();
  }
  // Until an entry of our term commits we do not know the true commit index (§6.4).
  if (!CommittedEntryInCurrentTerm()) {
    return ProposalDroppedError("read index: leader has not committed in its term yet");
  }
  switch (read_only_option_) {
    case ReadOnlyOption::kSafe: {
      const std::string ctx = m.entries.empty() ? std::string() : m.entries[0].data;
      read_only_.AddRequest(log_.committed(), m);
      // The leader acknowledges itself; a heartbeat round collects the others.
      const std::map<NodeId, bool>* acks = read_only_.RecvAck(id_, ctx);
      if (acks && trk_.voters().Vote(*acks) == VoteResult::kWon) {
        for (ReadOnly::Status& rs : read_only_.Advance(ctx)) {
          SendReadIndexResponse(rs.request, rs.index);
        }
        return absl::OkStatus();
      }
      BcastHeartbeat();
      break;
    }
    case ReadOnlyOption::kLeaseBased:
      SendReadIndexResponse(m, log_.committed());
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleTransferLeader(const Message& m) {
  const NodeId transferee = m.from;
  const Progress* pr = trk_.Find(transferee);
  if (pr == nullptr || pr->is_learner) return;  // only a voter can lead
  if (lead_transferee_ != kNoNode) {
    if (lead_transferee_ == transferee) return;  // already in progress
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;
  // The transfer must finish within one election timeout.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);  // catch it up first; HandleAppendResponse sends TimeoutNow
  }
}

}  // namespace sluice::raft
