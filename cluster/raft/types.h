// Raft wire and log types as plain value structs: entries, hard state, configuration state,
// snapshots and messages. A transport serializes these at its own edge (proto/raft.proto later);
// the core never sees bytes on a wire. Value types; thread-compatible.
#ifndef SLUICE_CLUSTER_RAFT_TYPES_H_
#define SLUICE_CLUSTER_RAFT_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace sluice::raft {

// NodeId(0) means "nobody" (no leader, no vote).
inline constexpr NodeId kNoNode{0};

enum class EntryType : uint8_t { kNormal = 0, kConfChange = 1 };

struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  std::string data;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Bytes an entry counts for in per-message limits (payload plus a fixed header estimate).
inline constexpr uint64_t kEntryHeaderBytes = 24;
inline uint64_t EntrySizeBytes(const Entry& e) { return kEntryHeaderBytes + e.data.size(); }
// Sum of payload bytes only: what the uncommitted-size and inflight-bytes limits count, so an
// empty entry (a new leader's no-op) is never refused by them.
uint64_t PayloadBytes(const std::vector<Entry>& entries);
// Keeps the longest prefix whose EntrySizeBytes sum is <= max_bytes, but always at least one entry.
void LimitSize(std::vector<Entry>& entries, uint64_t max_bytes);

// What must be durable before any message of the same Ready is sent.
struct HardState {
  Term term;
  NodeId vote;
  LogIndex commit;
  bool IsEmpty() const { return term == Term(0) && vote == kNoNode && commit == LogIndex(0); }
  friend bool operator==(const HardState&, const HardState&) = default;
};

// Membership: voters decide elections and commits; learners only receive the log.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

struct SnapshotMetadata {
  LogIndex index;
  Term term;
  ConfState conf_state;
  friend bool operator==(const SnapshotMetadata&, const SnapshotMetadata&) = default;
};

struct Snapshot {
  SnapshotMetadata metadata;
  std::string data;  // opaque state-machine image
  bool IsEmpty() const { return metadata.index == LogIndex(0); }
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// One-at-a-time membership change. kAddNode on a learner promotes it; kAddLearner on a voter
// demotes it. Carried in an Entry of type kConfChange, encoded with Encode().
enum class ConfChangeType : uint8_t { kAddNode = 0, kAddLearner = 1, kRemoveNode = 2 };
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddNode;
  NodeId node_id;
  std::string context;
  std::string Encode() const;
  // InvalidArgument on malformed bytes.
  static absl::StatusOr<ConfChange> Decode(std::string_view bytes);
  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

enum class MessageType : uint8_t {
  // Local: never sent on the wire (term 0), injected by the owner of the node.
  kHup,             // start an election
  kBeat,            // leader: send heartbeats
  kProp,            // proposal (forwarded to the leader on the wire too)
  kCheckQuorum,     // leader: step down unless a quorum was heard from recently
  kUnreachable,     // transport could not reach `from`
  kSnapStatus,      // result of sending a snapshot to `from` (reject = failed)
  // Wire.
  kApp, kAppResp,
  kVote, kVoteResp,
  kPreVote, kPreVoteResp,
  kHeartbeat, kHeartbeatResp,
  kSnap,
  kTransferLeader,  // local on the leader, or forwarded by a follower
  kTimeoutNow,
  kReadIndex, kReadIndexResp,
};
std::string_view MessageTypeName(MessageType type);
bool IsLocalMessage(MessageType type);
bool IsResponseMessage(MessageType type);
// kVote -> kVoteResp, kPreVote -> kPreVoteResp.
MessageType VoteResponseType(MessageType type);

struct Message {
  MessageType type = MessageType::kHup;
  NodeId to;
  NodeId from;
  Term term;
  Term log_term;   // kApp: term of `index`; kVote: last log term; kAppResp reject: hint term
  LogIndex index;  // kApp: index preceding entries; kVote: last index; kAppResp: match or rejected
  std::vector<Entry> entries;
  LogIndex commit;
  std::optional<Snapshot> snapshot;  // kSnap only
  bool reject = false;
  LogIndex reject_hint;
  std::string context;  // campaign-transfer marker, ReadIndex request id
};

// Read-only request answered by ReadIndex: once the applied index reaches `index`, a read that
// started when `request_ctx` was issued may be served linearizably.
struct ReadState {
  LogIndex index;
  std::string request_ctx;
  friend bool operator==(const ReadState&, const ReadState&) = default;
};

enum class StateType : uint8_t { kFollower, kCandidate, kLeader, kPreCandidate };
std::string_view StateTypeName(StateType state);

// Volatile state that the owner may want to observe (not persisted).
struct SoftState {
  NodeId lead;
  StateType raft_state = StateType::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

std::string DescribeMessage(const Message& m);

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_TYPES_H_
