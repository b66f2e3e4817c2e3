// RawNode: the owner-facing API of one Raft group. The owner drives it from one thread:
//
//   loop:
//     Tick() every tick interval; Step(m) for every received message; Propose*/ReadIndex for clients
//     if HasReady():
//       rd = GetReady()
//       1. persist rd.snapshot (if any), rd.entries, rd.hard_state (if any) -- one synced write
//       2. send rd.messages
//       3. apply rd.snapshot / rd.committed_entries to the state machine
//          (ApplyConfChange for kConfChange entries)
//       4. Advance(rd)
//
// Only one Ready is outstanding at a time: HasReady() is false and GetReady() crashes until
// Advance(). Tick/Step/Propose may be called while a Ready is outstanding (e.g. while its write
// is in flight); their effects appear in the next Ready.
//
// Ownership: owns the Raft state machine; borrows storage and rng from Config. Thread-compatible.
// Errors: Propose/ProposeConfChange/ReadIndex return FailedPrecondition (IsProposalDropped) when
// the request cannot be taken now; Step returns InvalidArgument for local message types and
// NotFound for a response from a node not in the group.
#ifndef SLUICE_CLUSTER_RAFT_RAWNODE_H_
#define SLUICE_CLUSTER_RAFT_RAWNODE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/config.h"
#include "cluster/raft/raft.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

struct Ready {
  std::optional<SoftState> soft_state;   // set when it changed
  std::optional<HardState> hard_state;   // set when it changed; persist before sending
  std::vector<ReadState> read_states;
  std::vector<Entry> entries;            // append to stable storage
  std::optional<Snapshot> snapshot;      // install in storage and state machine
  std::vector<Entry> committed_entries;  // apply, in order
  std::vector<Message> messages;         // send after the write above is durable
  // Whether the write must be synced (entries, or a term/vote change).
  bool must_sync = false;
};

enum class SnapshotStatus : uint8_t { kFinish, kFailure };

class RawNode {
 public:
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config);

  void Tick();
  // Starts an election now (as on election timeout).
  absl::Status Campaign();
  absl::Status Propose(std::string data);
  // Several normal entries in one proposal (one MsgProp): appended together, in order, by the
  // leader, or forwarded as one message by a follower; all or none (the same errors as
  // Propose). `data` must not be empty.
  absl::Status ProposeBatch(std::vector<std::string> data);
  absl::Status ProposeConfChange(const ConfChange& cc);
  // Applies a committed conf change entry; returns the membership now in effect.
  ConfState ApplyConfChange(const ConfChange& cc);
  absl::Status Step(Message m);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& rd);

  // Asks the leader to hand leadership to `transferee` (fire and forget; watch SoftState).
  void TransferLeader(NodeId transferee);
  // Requests a linearizable read; a ReadState with `request_ctx` appears in a later Ready.
  absl::Status ReadIndex(std::string request_ctx);
  void ReportUnreachable(NodeId id);
  void ReportSnapshot(NodeId id, SnapshotStatus status);

  const Raft& raft() const { return *raft_; }
  Raft& mutable_raft_for_testing() { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  bool ready_outstanding_ = false;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_RAWNODE_H_
