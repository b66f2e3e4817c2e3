// Raft: the consensus state machine for one group, with no I/O. It is advanced only by Tick()
// and Step(); its outputs are messages (TakeMessages), log changes (RaftLog's unstable part) and
// read states, which RawNode packages into Ready batches. Owns its RaftLog and tracker; borrows
// the storage and rng from Config. Thread-compatible: one owner thread drives it.
//
// Errors: Step returns FailedPrecondition ("proposal dropped", test with IsProposalDropped) when
// a proposal or read cannot be taken now (no leader, transfer in progress, a conf change pending,
// the uncommitted-size limit); the caller may retry. Every other anomaly in messages is handled
// by the protocol (stale terms are ignored or answered). Broken invariants crash.
#ifndef SLUICE_CLUSTER_RAFT_RAFT_H_
#define SLUICE_CLUSTER_RAFT_RAFT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "base/rng.h"
#include "cluster/raft/config.h"
#include "cluster/raft/log.h"
#include "cluster/raft/read_only.h"
#include "cluster/raft/tracker.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

absl::Status ProposalDroppedError(std::string_view why);
bool IsProposalDropped(const absl::Status& s);

// Context marking a vote request as part of a leadership transfer (bypasses leader stickiness).
inline constexpr std::string_view kCampaignTransfer = "CampaignTransfer";

class Raft {
 public:
  // InvalidArgument for a bad config; errors from the storage's InitialState.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);

  void Tick();
  absl::Status Step(Message m);
  // Moves out the messages produced so far; the caller sends them after persisting the log.
  std::vector<Message> TakeMessages();
  std::vector<ReadState> TakeReadStates();
  const std::vector<Message>& messages() const { return msgs_; }
  const std::vector<ReadState>& read_states() const { return read_states_; }

  // Applies a committed membership change; returns the membership now in effect.
  ConfState ApplyConfChange(const ConfChange& cc);
  // The owner applied the given committed entries (the last of which is `index`).
  void AppliedTo(LogIndex index, uint64_t applied_payload_bytes);

  // State transitions, public for tests and RawNode.
  void BecomeFollower(Term term, NodeId lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();

  NodeId id() const { return id_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  StateType state() const { return state_; }
  bool is_learner() const { return is_learner_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  LogIndex pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  bool check_quorum() const { return check_quorum_; }
  HardState hard_state() const { return HardState{term_, vote_, log_.committed()}; }
  SoftState soft_state() const { return SoftState{lead_, state_}; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const ProgressTracker& tracker() const { return trk_; }
  ProgressTracker& mutable_tracker() { return trk_; }
  // Whether this node may become leader (a voter without a snapshot pending).
  bool Promotable() const;

  // Test hooks.
  void set_randomized_election_timeout(int ticks) { randomized_election_timeout_ = ticks; }
  void set_check_quorum(bool v) { check_quorum_ = v; }
  void set_pre_vote(bool v) { pre_vote_ = v; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& c);

  // raft.cc: common machinery and elections.
  void Send(Message m);
  void Reset(Term term);
  void ResetRandomizedElectionTimeout();
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void TickElection();
  void TickHeartbeat();
  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  VoteResult Poll(NodeId id, MessageType type, bool granted);
  bool HasUnappliedConfChanges() const;
  void LoadState(const HardState& hs);
  void HandleVoteRequest(const Message& m);
  absl::Status StepCandidate(Message& m);

  // raft_leader.cc: replication and the leader's message handling.
  absl::Status StepLeader(Message& m);
  void HandleAppendResponse(const Message& m, Progress& pr);
  void HandleHeartbeatResponse(const Message& m, Progress& pr);
  void HandleTransferLeader(const Message& m);
  absl::Status HandleReadIndex(Message& m);
  void SendReadIndexResponse(const Message& req, LogIndex index);
  bool AppendEntry(std::vector<Entry> entries);
  bool MaybeCommit();
  void SendAppend(NodeId to) { MaybeSendAppend(to, true); }
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  void SendHeartbeat(NodeId to, const std::string& ctx);
  void SendTimeoutNow(NodeId to);
  void BcastAppend();
  void BcastHeartbeat();
  void AbortLeaderTransfer() { lead_transferee_ = kNoNode; }
  bool CommittedEntryInCurrentTerm() const;
  bool IncreaseUncommittedSize(const std::vector<Entry>& entries);
  // OK, or why the leader refuses to propose this conf change entry now.
  absl::Status CheckConfChange(const Entry& e) const;

  // raft_follower.cc: following a leader.
  absl::Status StepFollower(Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const Snapshot& snap);

  NodeId id_;
  Term term_;
  NodeId vote_;
  NodeId lead_;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  RaftLog log_;
  ProgressTracker trk_;
  ReadOnly read_only_;
  ReadOnlyOption read_only_option_;
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  uint64_t max_msg_size_;
  uint64_t max_uncommitted_size_;
  uint64_t uncommitted_size_ = 0;
  NodeId lead_transferee_;
  // Index of the latest conf change proposed; another may be proposed once it is applied.
  LogIndex pending_conf_index_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  bool check_quorum_;
  bool pre_vote_;
  bool disable_proposal_forwarding_;
  uint64_t max_learner_lag_entries_;
  int heartbeat_timeout_;
  int election_timeout_;
  int randomized_election_timeout_ = 0;
  Rng* rng_;  // not owned
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_RAFT_H_
