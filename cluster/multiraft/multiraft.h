// MultiRaft: the driver of all the Raft groups of one node.
//
// One driver (a thread of its own, or the owner's thread: see "Driving" below) owns every
// RawNode, the LogStore and the StateMachine calls. Each turn of its loop:
//   1. takes what other threads posted: received messages, transport feedback (unreachable
//      peers, snapshot outcomes) and client requests (proposals, group creation, ...);
//   2. turns the injected Clock (MultiRaftOptions::clock) into Tick()s (every `tick_ms`) and
//      expires overdue proposals and reads;
//   3. collects the Ready of every group that has one, persists all of them in ONE synced
//      LogStore write (LogBatch), then sends their messages (one transport batch per
//      destination node, all groups mixed), applies committed entries to the StateMachine,
//      completes the proposals this node made, and Advance()s;
//   4. takes a snapshot and compacts a group's log every `snapshot_interval_entries`.
//
// Driving: with `own_thread` (default) Start() runs that loop on a driver thread, which waits
// for work or the next tick. With `own_thread = false` there is no thread: the owner calls
// RunOnce(), which does exactly one turn (steps 1-4) and returns; a deterministic simulator
// does that with a ManualClock, a simulated Transport and a LogStore on an in-memory disk.
// Both run the same turn. The driver reads time only from `clock` (ticks, proposal and read
// deadlines, the storage-write histogram), and with `seed` != 0 its only randomness (the
// proposal incarnation and every group's election timeouts) derives from that seed.
//
// Proposals complete with the log index they were applied at, or with an error:
//   FailedPrecondition  this node is not the leader (or a conf change is pending, or the
//                       uncommitted-size limit is hit): retry elsewhere/later. Not applied.
//                       With forward_proposals: no leader was known until the deadline.
//   ResourceExhausted   `pending_proposals_max` proposals are already waiting, or
//                       `inbox_requests_max` requests wait for the driver's next turn (this
//                       one completes at once, on the caller's thread). Not applied.
//   NotFound            no such group on this node. Not applied.
//   Unavailable         leadership was lost while waiting: outcome unknown (the entry may
//                       still commit under the new leader).
//   DeadlineExceeded    not applied within `proposal_timeout_ms`: outcome unknown.
//   Cancelled           the driver stopped: outcome unknown. Requests still in the inbox when
//                       it stops complete with Cancelled too (they were not proposed).
// Callbacks run on the driver (thread, or inside RunOnce/Stop) and must not block; the one
// exception is the inbox-full refusal above.
//
// Linearizable reads: ReadIndex(group) asks the leader (directly, or forwarded from a follower)
// for the commit index confirmed by a quorum heartbeat round after the call, and completes with
// it once THIS node has applied at least that far. A read of the local state machine made in
// the callback (or after the future is ready) then reflects every write acknowledged before
// ReadIndex was called. Errors: FailedPrecondition (no leader known, or the leader has not yet
// committed an entry of its term: retry), NotFound, ResourceExhausted, Unavailable (this node
// lost leadership before the index was confirmed), DeadlineExceeded (`proposal_timeout_ms`,
// e.g. the request was lost with a leader change), Cancelled. Reads have no side effect, so
// every error may simply be retried.
//
// Membership: ProposeConfChange adds a learner, promotes it (kAddNode) or removes a node, one
// change at a time per group. Promotion is safe: the leader refuses (FailedPrecondition, "not
// caught up") to promote a learner whose acknowledged log is more than
// `max_learner_lag_entries` behind the leader's last index, and refuses to make a node that is
// not a learner a voter directly. PromoteLearner is the same proposal by name; watch the
// learner's progress in GroupStatus::match (on the leader) to know when it will be accepted. A node joining a group calls CreateGroup with the membership it
// joins (the group's voters, itself as learner) before the leader adds it. Where peers are
// reached is the transport's business (Transport::AddPeer), not the driver's.
//
// Ownership: the store, transport, state machine and clock are borrowed (must outlive the
// MultiRaft). Thread-safety: with `own_thread`, every public method is thread-safe. Without
// it, every method except the TransportHandler ones (which may come from any thread) must be
// called from the owner's thread, the one calling RunOnce; AwaitStatus and the futures then
// only make progress through RunOnce (never block on them there). Stop the transport before
// destroying the MultiRaft (it is the transport's handler). Storage write failures crash the
// process: a Raft node that cannot persist must not keep voting.
#ifndef SLUICE_CLUSTER_MULTIRAFT_MULTIRAFT_H_
#define SLUICE_CLUSTER_MULTIRAFT_MULTIRAFT_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/ids.h"
#include "cluster/multiraft/state_machine.h"
#include "cluster/raft/types.h"
#include "cluster/storage/log_store.h"
#include "cluster/transport/transport.h"

namespace sluice::multiraft {

struct MultiRaftOptions {
  NodeId self;
  int64_t tick_ms = 100;
  int election_tick = 10;  // ticks
  int heartbeat_tick = 1;  // ticks
  bool pre_vote = true;
  bool check_quorum = true;
  // Raft limits (see cluster/raft/config.h).
  uint64_t max_size_per_msg = 1 << 20;
  uint64_t max_inflight_msgs = 256;
  uint64_t max_uncommitted_entries_size = 64 << 20;
  uint64_t max_learner_lag_entries = 1000;  // promotion refused beyond this lag
  // Driver limits.
  uint64_t pending_proposals_max = 100'000;  // per node, all groups
  int64_t proposal_timeout_ms = 10'000;
  uint64_t inbox_msgs_max = 200'000;  // received messages waiting for the driver; beyond: dropped
  // Client requests (proposals, reads, group creation, campaign/transfer) waiting for the
  // driver's next turn; beyond: ResourceExhausted (campaign/transfer requests are dropped).
  // Transport feedback needs no limit: one unreachable note per peer, one snapshot outcome
  // per snapshot sent.
  uint64_t inbox_requests_max = 200'000;
  // Snapshot + compaction once this many entries were applied since the last snapshot (0 =
  // never); keep this many entries behind the snapshot for followers that lag a little.
  uint64_t snapshot_interval_entries = 10'000;
  uint64_t compaction_lag_entries = 1'000;
  // Driving (see the header comment). Monotonic time of the driver: ticks, proposal and read
  // deadlines, write latencies. Not owned; must outlive the MultiRaft.
  const Clock* clock = SystemClock::Get();
  // 0: the proposal incarnation is random per Start (std::random_device and the clock), so
  // proposals of an earlier process run replayed from the log never complete this run's.
  // Non-zero: the incarnation and every group's election rng derive from this seed alone (a
  // simulator passes a fresh seed from its own rng at every restart of a node).
  uint64_t seed = 0;
  // true: Start() runs the loop on a driver thread. false: no thread; the owner calls RunOnce.
  bool own_thread = true;
  // Proposals made on a follower (cluster mode): false refuses them (FailedPrecondition, the
  // caller proposes on the leader); true forwards them to the leader inside the Raft messages
  // to it (batched with the rest of that peer's traffic, in proposal order). A forwarded
  // proposal completes here once this node applied it; it fails with Unavailable (outcome
  // unknown) when this node sees the leader change before that (unless it was forwarded to
  // the new leader). One made while no leader is known (or while the leader transfers its
  // leadership) waits on the driver, in order behind the group's earlier ones, and goes as
  // soon as a leader is known; at `proposal_timeout_ms` it fails with FailedPrecondition
  // (never proposed).
  bool forward_proposals = false;
};

struct GroupStatus {
  NodeId leader;
  sluice::Term term;
  raft::StateType state = raft::StateType::kFollower;
  LogIndex commit;
  LogIndex applied;
  LogIndex last_index;
  raft::ConfState conf_state;
  // On the leader only: every other member's acknowledged (match) index.
  std::map<NodeId, LogIndex> match;
  // Times this node saw the group's leader change to another known node, since the group was
  // opened in this process (the first leader counts: 1 after a single-node start).
  uint64_t leader_changes = 0;
};

// Duration of the synced RocksDB write of each group commit (HandleReadies: every group's
// Ready in one write), i.e. write + fsync with `sync` on. Fixed buckets in microseconds,
// counted by the driver thread and published with the other stats once per turn.
struct StorageWriteHistogram {
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50,    100,   250,    500,    1000,   2500,   5000,    10000,
      25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};
  std::array<uint64_t, kBoundsUs.size() + 1> buckets{};  // the last one: +Inf
  uint64_t count = 0;
  uint64_t sum_us = 0;

  void Observe(uint64_t us) {
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    ++buckets[i];
    ++count;
    sum_us += us;
  }
};

struct MultiRaftStats {
  uint64_t loop_turns = 0;
  uint64_t storage_writes = 0;      // synced RocksDB batches
  uint64_t readies = 0;             // group Readies handled (>= storage_writes: batching)
  uint64_t messages_dropped_inbox_full = 0;
  uint64_t requests_dropped_inbox_full = 0;  // inbox_requests_max was hit
  uint64_t messages_unknown_group = 0;
  uint64_t proposals_completed = 0;
  uint64_t proposals_failed = 0;
  uint64_t proposals_held = 0;      // forward_proposals: waited for a leader (total)
  uint64_t proposals_held_now = 0;  // ... waiting now
  uint64_t reads_completed = 0;
  uint64_t reads_failed = 0;
  uint64_t snapshots_taken = 0;
  uint64_t compactions = 0;
  StorageWriteHistogram storage_write_latency;  // one observation per storage_writes
};

class MultiRaft final : public transport::TransportHandler {
 public:
  using ProposeCallback = std::function<void(absl::StatusOr<LogIndex>)>;

  // None owned; all must outlive the MultiRaft (so must options.clock).
  MultiRaft(MultiRaftOptions options, raftstore::LogStore* store,
            transport::Transport* transport, StateMachine* state_machine);
  ~MultiRaft() override;

  // Reopens every group in the store (restoring the state machine from each group's snapshot)
  // and starts the driver thread (`own_thread`), or readies the driver for RunOnce. Errors
  // from storage or a bad Raft config; FailedPrecondition if already started.
  absl::Status Start();
  // One turn of the driver loop (header comment, steps 1-4) on the caller's thread; only
  // without `own_thread`, after Start and before Stop (else a crash: a programming error).
  // Returns true if the turn had anything to do (a message, feedback or request from the
  // inbox, or at least one Ready), false if it only looked (and perhaps ticked).
  bool RunOnce();
  // Stops the driver (joins its thread, or, without one, runs the shutdown on the caller's
  // thread); pending proposals and reads, and requests still in the inbox, complete with
  // Cancelled. Idempotent.
  void Stop();

  // Creates `group` with membership `bootstrap`, or reopens it if the store has it (bootstrap
  // ignored). Waits for the driver thread (without one, or before Start: runs on the caller's
  // thread). Errors from storage; AlreadyExists if already running; Cancelled after Stop;
  // ResourceExhausted when the inbox is full.
  absl::Status CreateGroup(GroupId group, const raft::ConfState& bootstrap);

  void Propose(GroupId group, std::string data, ProposeCallback done);
  std::future<absl::StatusOr<LogIndex>> Propose(GroupId group, std::string data);
  std::future<absl::StatusOr<LogIndex>> ProposeConfChange(GroupId group, raft::ConfChange cc);
  // ProposeConfChange(kAddNode, learner): FailedPrecondition unless it has caught up.
  std::future<absl::StatusOr<LogIndex>> PromoteLearner(GroupId group, NodeId learner);
  // Linearizable read barrier (see above): completes with the read index once applied here.
  void ReadIndex(GroupId group, ProposeCallback done);
  std::future<absl::StatusOr<LogIndex>> ReadIndex(GroupId group);
  // Starts an election in `group` now / asks its leader to hand over to `to` (fire and forget).
  void Campaign(GroupId group);
  void TransferLeader(GroupId group, NodeId to);

  // The last published status of `group` (updated by the driver after every Ready).
  std::optional<GroupStatus> Status(GroupId group) const;
  // Waits until `pred(status)` holds for `group`; false after `timeout` (real time). Without
  // `own_thread` the status changes only in RunOnce: call it only where pred already holds
  // or from another thread than the owner's.
  bool AwaitStatus(GroupId group, const std::function<bool(const GroupStatus&)>& pred,
                   std::chrono::milliseconds timeout) const;
  MultiRaftStats stats() const;
  NodeId self() const { return options_.self; }

  // transport::TransportHandler (called on transport threads).
  void HandleMessages(NodeId from, std::vector<transport::GroupMessage> batch) override;
  void HandleUnreachable(NodeId peer) override;
  void HandleSnapshotStatus(GroupId group, NodeId to, bool delivered) override;

 private:
  struct Group;
  struct Pending {
    GroupId group;
    ProposeCallback done;
    int64_t deadline_ms = 0;  // options_.clock
    // The leader the proposal went to when it was made (this node when it led): a follower's
    // leader change fails only what went to another leader.
    NodeId sent_to;
  };
  struct PendingRead {
    GroupId group;
    ProposeCallback done;
    int64_t deadline_ms = 0;  // options_.clock
    std::optional<LogIndex> index;  // set once the leader confirmed it
  };

  // Runs `fn` on the driver (after Start: in its next turn) and returns at once; false (and
  // `fn` dropped) when `inbox_requests_max` requests are already waiting.
  bool Post(std::function<void()> fn);
  // Post for a request with a callback: fn(done) on the driver, or done(ResourceExhausted)
  // here when the inbox is full.
  void PostRequest(ProposeCallback done, std::function<void(ProposeCallback)> fn);
  // The driver thread's loop: waits for work or the next tick, then Turn().
  void Run();
  // One turn (RunOnce's contract); driver only.
  bool Turn();
  // After the last turn: completes requests still in the inbox and everything pending with
  // Cancelled. Driver only (its thread, or the owner's without one).
  void Shutdown();
  // Driver-thread helpers (multiraft.cc / multiraft_apply.cc).
  absl::Status OpenGroupLocked(GroupId group, const raft::ConfState& bootstrap);
  void Tick(int64_t now_ms);
  // Returns the number of Readies handled.
  size_t HandleReadies();
  void ApplyCommitted(Group& g, const std::vector<raft::Entry>& entries);
  void Complete(uint64_t sequence, absl::StatusOr<LogIndex> result);
  // Fails `g`'s pending proposals with `why`, except those sent to `keep_sent_to` (when set).
  void FailGroupProposals(Group& g, const absl::Status& why, NodeId keep_sent_to = NodeId());
  void MaybeSnapshot(Group& g);
  void Compact(Group& g);
  void Publish(Group& g);
  // multiraft_read.cc.
  void ReadOnDriver(GroupId group, ProposeCallback done);
  void HandleReadStates(Group& g, const std::vector<raft::ReadState>& states);
  void CompleteReads(const Group& g);
  void ExpireReads(int64_t now_ms);
  void FailUnconfirmedReads(const Group& g, const absl::Status& why);
  void CancelReads();
  void ProposeOnDriver(GroupId group, std::string data, bool conf_change, raft::ConfChange cc,
                       ProposeCallback done);
  // Proposes the turn's batched proposals of `group` (all of them when invalid) as one
  // MsgProp each (RawNode::ProposeBatch): a follower forwards a turn's appends in one message
  // and a leader broadcasts one append for them, instead of one per proposal.
  // With forward_proposals, a group without a known leader keeps them (Hold), behind any
  // held earlier, until ReleaseHeld finds a leader (true when nothing is held any more).
  void FlushProposals(GroupId group);
  void FlushAllProposals();

  const MultiRaftOptions options_;
  raftstore::LogStore* store_;
  transport::Transport* transport_;
  StateMachine* sm_;
  const Clock* clock_;
  const uint64_t incarnation_;

  // Driver-thread state.
  std::map<GroupId, std::unique_ptr<Group>> groups_;
  std::map<uint64_t, Pending> pending_;  // by sequence
  // ApplyCommitted's own proposals (sequence, index), completed after EndApplyBatch.
  std::vector<std::pair<uint64_t, LogIndex>> applied_own_;
  std::map<uint64_t, PendingRead> pending_reads_;  // by sequence (shared with proposals)
  uint64_t next_sequence_ = 1;
  int64_t next_tick_ms_ = 0;
  // Set by Shutdown: requests run from then on complete with Cancelled at once.
  bool shutting_down_ = false;
  MultiRaftStats driver_stats_;  // published into stats_ once per turn
  std::thread thread_;
  // A turn's share of the inbox (kept to reuse their capacity).
  std::vector<transport::GroupMessage> turn_msgs_;
  std::vector<NodeId> turn_unreachable_;
  std::vector<std::tuple<GroupId, NodeId, bool>> turn_snap_status_;
  std::vector<std::function<void()>> turn_tasks_;
  // Normal proposals of this turn not yet given to their group, in order, with their bytes.
  struct Batched {
    uint64_t sequence;
    std::string entry;  // EncodeProposal(id, data)
    ProposeCallback done;
    int64_t deadline_ms = 0;  // options_.clock; set when made
    bool held = false;        // has waited for a leader (counted once)
  };
  struct ProposalBatch {
    std::vector<Batched> items;
    uint64_t bytes = 0;
  };
  std::map<GroupId, ProposalBatch> turn_proposals_;
  size_t turn_proposals_count_ = 0;
  // forward_proposals: normal proposals of groups that knew no leader when they were flushed,
  // in the order they were made; they count against pending_proposals_max.
  std::map<GroupId, std::deque<Batched>> held_;
  size_t held_count_ = 0;
  void Submit(Group& g, std::vector<Batched> items);
  void Hold(GroupId group, std::vector<Batched> items);
  bool ReleaseHeld(Group& g);
  void ExpireHeld(int64_t now_ms);  // FailedPrecondition past their deadline: never proposed
  void CancelHeld();

  // Inbox, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  std::vector<transport::GroupMessage> in_msgs_;
  std::vector<NodeId> in_unreachable_;
  std::vector<std::tuple<GroupId, NodeId, bool>> in_snap_status_;
  std::vector<std::function<void()>> in_tasks_;
  MultiRaftStats stats_;

  // Published status, guarded by status_mu_.
  mutable std::mutex status_mu_;
  mutable std::condition_variable status_cv_;
  std::map<GroupId, GroupStatus> status_;
};

}  // namespace sluice::multiraft

#endif  // SLUICE_CLUSTER_MULTIRAFT_MULTIRAFT_H_
