// Raft core: construction, terms, timers and elections. Replication lives in raft_leader.cc,
// following a leader in raft_follower.cc.
#include "cluster/raft/raft.h"

#include <algorithm>

#include "base/check.h"
#include "base/status.h"

namespace sluice::raft {

absl::Status ProposalDroppedError(std::string_view why) {
  return absl::FailedPreconditionError(std::string("raft proposal dropped: ") + std::string(why));
}

bool IsProposalDropped(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition;
}

Raft::Raft(const Config& c)
    : id_(c.id),
      log_(c.storage, c.max_committed_size_per_ready ? c.max_committed_size_per_ready
                                                     : c.max_size_per_msg),
      trk_(c.max_inflight_msgs, c.max_inflight_bytes),
      read_only_option_(c.read_only_option),
      max_msg_size_(c.max_size_per_msg),
      max_uncommitted_size_(c.max_uncommitted_entries_size ? c.max_uncommitted_entries_size
                                                           : kNoLimit),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      max_learner_lag_entries_(c.max_learner_lag_entries),
      heartbeat_timeout_(c.heartbeat_tick),
      election_timeout_(c.election_tick),
      rng_(c.rng) {}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& c) {
  RETURN_IF_ERROR(c.Validate());
  ASSIGN_OR_RETURN(PersistedState ps, c.storage->InitialState());
  std::unique_ptr<Raft> r(new Raft(c));
  r->trk_.Restore(ps.conf_state, r->log_.LastIndex().Next());
  const Progress* self = r->trk_.Find(r->id_);
  r->is_learner_ = self != nullptr && self->is_learner;
  if (!ps.hard_state.IsEmpty()) r->LoadState(ps.hard_state);
  if (c.applied > LogIndex(0)) r->log_.AppliedTo(c.applied);
  r->BecomeFollower(r->term_, kNoNode);
  return r;
}

void Raft::LoadState(const HardState& hs) {
  SLUICE_CHECK_MSG(hs.commit >= log_.committed() && hs.commit <= log_.LastIndex(),
                   "hard state commit out of the stored log's range");
  log_.CommitTo(hs.commit);
  term_ = hs.term;
  vote_ = hs.vote;
}

std::vector<Message> Raft::TakeMessages() { return std::exchange(msgs_, {}); }
std::vector<ReadState> Raft::TakeReadStates() { return std::exchange(read_states_, {}); }

void Raft::Send(Message m) {
  if (m.from == kNoNode) m.from = id_;
  const bool is_vote = m.type == MessageType::kVote || m.type == MessageType::kPreVote ||
                       m.type == MessageType::kVoteResp || m.type == MessageType::kPreVoteResp;
  if (is_vote) {
    // Vote traffic carries the term it is about (a pre-vote's is a future term).
    SLUICE_CHECK_MSG(m.term != Term(0), "vote message without a term");
  } else {
    SLUICE_CHECK_MSG(m.term == Term(0), "term set on a non-vote message");
    // Proposals and forwarded reads/transfers are local-like: they carry no term.
    if (m.type != MessageType::kProp && m.type != MessageType::kReadIndex &&
        m.type != MessageType::kTransferLeader) {
      m.term = term_;
    }
  }
  msgs_.push_back(std::move(m));
}

void Raft::Reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  trk_.ResetVotes();
  const LogIndex last = log_.LastIndex();
  trk_.Visit([&](NodeId id, Progress& pr) {
    pr.Reset(last.Next());
    if (id == id_) pr.match = last;
  });
  pending_conf_index_ = LogIndex(0);
  uncommitted_size_ = 0;
  read_only_ = ReadOnly();
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_timeout_ + static_cast<int>(rng_->Uniform(static_cast<uint64_t>(election_timeout_)));
}

void Raft::BecomeFollower(Term term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  SLUICE_CHECK_MSG(state_ != StateType::kLeader, "leader cannot become candidate");
  Reset(term_.Next());
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  SLUICE_CHECK_MSG(state_ != StateType::kLeader, "leader cannot become pre-candidate");
  // A pre-candidate changes neither term nor vote: losing the pre-election costs nothing.
  trk_.ResetVotes();
  lead_ = kNoNode;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  SLUICE_CHECK_MSG(state_ != StateType::kFollower, "follower cannot become leader directly");
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  Progress* self = trk_.Find(id_);
  SLUICE_CHECK(self != nullptr);
  self->BecomeReplicate();
  self->recent_active = true;
  // An empty entry of the new term lets earlier-term entries commit (commit rule §5.4.2).
  SLUICE_CHECK(AppendEntry({Entry{}}));
  // Conf changes may sit in the uncommitted tail: no new one until this term's empty entry is
  // applied. Stricter than etcd (which waits for the entries before it) and closes the
  // single-server-change bug across leader changes (Ongaro, raft-dev 2015).
  pending_conf_index_ = log_.LastIndex();
}

void Raft::Tick() {
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m;
    m.type = MessageType::kHup;
    m.from = id_;
    (void)Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      Message m;
      m.type = MessageType::kCheckQuorum;
      m.from = id_;
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader) AbortLeaderTransfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.type = MessageType::kBeat;
    m.from = id_;
    (void)Step(std::move(m));
  }
}

bool Raft::Promotable() const {
  const Progress* pr = trk_.Find(id_);
  return pr != nullptr && !pr->is_learner && !log_.HasPendingSnapshot();
}

bool Raft::HasUnappliedConfChanges() const {
  if (log_.applied() >= log_.committed()) return false;
  absl::StatusOr<std::vector<Entry>> ents =
      log_.Slice(std::max(log_.applied().Next(), log_.FirstIndex()), log_.committed().Next(),
                 kNoLimit);
  SLUICE_CHECK_OK(ents.status());
  for (const Entry& e : *ents) {
    if (e.type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) return;
  // A committed membership change not yet applied could change who may vote: wait for it.
  if (HasUnappliedConfChanges()) return;
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  if (!Promotable()) return;
  MessageType vote_type;
  Term term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    term = term_.Next();  // the term we would campaign in; ours does not change yet
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    term = term_;
  }
  if (Poll(id_, VoteResponseType(vote_type), true) == VoteResult::kWon) {
    // A single-voter group wins at once.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId id : trk_.voters().voters()) {
    if (id == id_) continue;
    Message m;
    m.type = vote_type;
    m.to = id;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    if (t == CampaignType::kTransfer) m.context = std::string(kCampaignTransfer);
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(NodeId id, MessageType type, bool granted) {
  (void)type;
  trk_.RecordVote(id, granted);
  return trk_.TallyVotes().result;
}

void Raft::HandleVoteRequest(const Message& m) {
  // We may vote for m.from if we already did in this term, or have voted for no one and know
  // of no leader; a pre-vote for a later term is granted on the log check alone.
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                        (m.type == MessageType::kPreVote && m.term > term_);
  Message resp;
  resp.type = VoteResponseType(m.type);
  resp.to = m.from;
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    // Answer in the requester's term: a pre-vote's is one we have not entered.
    resp.term = m.term;
    Send(std::move(resp));
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
    Send(std::move(resp));
  }
}

absl::Status Raft::Step(Message m) {
  // 1. Term handling, common to every state.
  if (m.term == Term(0)) {
    // Local message (or proposal / forwarded request).
  } else if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      const bool force = m.context == kCampaignTransfer;
      const bool in_lease =
          check_quorum_ && lead_ != kNoNode && election_elapsed_ < election_timeout_;
      // Leader stickiness: with a live leader, ignore (do not even answer) the request.
      if (!force && in_lease) return absl::OkStatus();
    }
    if (m.type == MessageType::kPreVote) {
      // Never change term in response to a pre-vote.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // Granted pre-votes carry the future term; we move to it when we win the pre-election.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A stale leader (e.g. one that was partitioned away) would never learn of the new term
      // when we ignore it, because with check-quorum/pre-vote we will not campaign against it.
      // Answering tells it to step down.
      Message resp;
      resp.type = MessageType::kAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      Send(std::move(resp));
    }
    return absl::OkStatus();
  }

  // 2. Messages handled the same way in every state.
  switch (m.type) {
    case MessageType::kHup:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case MessageType::kVote:
    case MessageType::kPreVote:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      break;
  }

  // 3. State-specific handling.
  switch (state_) {
    case StateType::kLeader: return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate: return StepCandidate(m);
    case StateType::kFollower: return StepFollower(m);
  }
  return absl::OkStatus();
}

absl::Status Raft::StepCandidate(Message& m) {
  const MessageType my_resp = state_ == StateType::kPreCandidate ? MessageType::kPreVoteResp
                                                                  : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kProp:
      return ProposalDroppedError("no leader (campaigning)");
    case MessageType::kReadIndex:
      return ProposalDroppedError("no leader (campaigning)");
    case MessageType::kApp:
      BecomeFollower(m.term, m.from);  // someone else won this term
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      break;  // already campaigning
    default:
      if (m.type != my_resp) break;
      switch (Poll(m.from, m.type, !m.reject)) {
        case VoteResult::kWon:
          if (state_ == StateType::kPreCandidate) {
            Campaign(CampaignType::kElection);
          } else {
            BecomeLeader();
            BcastAppend();
          }
          break;
        case VoteResult::kLost:
          // m.term equals ours (a higher-term rejection already made us a follower).
          BecomeFollower(term_, kNoNode);
          break;
        case VoteResult::kPending:
          break;
      }
  }
  return absl::OkStatus();
}

ConfState Raft::ApplyConfChange(const ConfChange& cc) {
  SLUICE_CHECK_OK(trk_.ApplyConfChange(cc, log_.LastIndex().Next()));
  const Progress* self = trk_.Find(id_);
  is_learner_ = self != nullptr && self->is_learner;
  const ConfState cs = trk_.GetConfState();
  if (state_ != StateType::kLeader) return cs;
  if (self == nullptr || is_learner_) {
    // The leader was removed or demoted: step down; the others elect a new leader.
    BecomeFollower(term_, kNoNode);
    return cs;
  }
  // A smaller quorum may commit more now; a new member needs the log.
  if (MaybeCommit()) {
    BcastAppend();
  } else {
    trk_.Visit([&](NodeId id, Progress&) {
      if (id != id_) MaybeSendAppend(id, false);
    });
  }
  if (lead_transferee_ != kNoNode && !trk_.IsVoter(lead_transferee_)) AbortLeaderTransfer();
  return cs;
}

void Raft::AppliedTo(LogIndex index, uint64_t applied_payload_bytes) {
  log_.AppliedTo(index);
  // Applied entries were committed: their bytes no longer count as uncommitted.
  if (state_ == StateType::kLeader) {
    uncommitted_size_ =
        applied_payload_bytes > uncommitted_size_ ? 0 : uncommitted_size_ - applied_payload_bytes;
  }
}

}  // namespace sluice::raft
