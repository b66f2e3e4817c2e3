// LogStorage: the durable Raft log as the core sees it, read-only. The owner of a node writes
// to its storage (entries, hard state, snapshots from a Ready) and then calls Advance; the core
// only reads. MemoryStorage is the in-memory version for tests and the simulator.
//
// Errors (absl::Status codes, test with the Is* helpers below):
//   Compacted              OutOfRange:  the index is at or below the snapshot (compacted away).
//   Unavailable            NotFound:    the index is past the last entry.
//   SnapshotTemporarilyUnavailable Unavailable: the snapshot is being built; the core retries.
//   SnapshotOutOfDate      FailedPrecondition: an older snapshot than the current one was given.
// Asking for a range that extends past LastIndex()+1 is a caller bug and crashes.
//
// Thread-compatible: the owner must serialize access (one thread owns a node and its storage).
#ifndef SLUICE_CLUSTER_RAFT_STORAGE_H_
#define SLUICE_CLUSTER_RAFT_STORAGE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

absl::Status LogCompactedError();
absl::Status EntryUnavailableError();
absl::Status SnapshotTemporarilyUnavailableError();
absl::Status SnapshotOutOfDateError();
bool IsLogCompacted(const absl::Status& s);
bool IsEntryUnavailable(const absl::Status& s);
bool IsSnapshotTemporarilyUnavailable(const absl::Status& s);
bool IsSnapshotOutOfDate(const absl::Status& s);

struct PersistedState {
  HardState hard_state;
  ConfState conf_state;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  // Hard state and membership saved last.
  virtual absl::StatusOr<PersistedState> InitialState() const = 0;
  // Entries in [lo, hi), at most max_bytes (EntrySizeBytes) but at least one if any exist.
  // Compacted if lo <= the snapshot index.
  virtual absl::StatusOr<std::vector<Entry>> Entries(LogIndex lo, LogIndex hi,
                                                     uint64_t max_bytes) const = 0;
  // Term of entry i, for i in [FirstIndex()-1, LastIndex()] (FirstIndex()-1 is the snapshot's).
  virtual absl::StatusOr<sluice::Term> TermAt(LogIndex i) const = 0;
  // Index of the first entry that may be read (snapshot index + 1).
  virtual absl::StatusOr<LogIndex> FirstIndex() const = 0;
  virtual absl::StatusOr<LogIndex> LastIndex() const = 0;
  // The most recent snapshot.
  virtual absl::StatusOr<raft::Snapshot> GetSnapshot() const = 0;
};

// In-memory LogStorage. Owns its entries. Thread-compatible.
class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();
  // Bootstraps with `conf_state` as the membership at index 0 (a fresh cluster).
  explicit MemoryStorage(ConfState conf_state);

  absl::StatusOr<PersistedState> InitialState() const override;
  absl::StatusOr<std::vector<Entry>> Entries(LogIndex lo, LogIndex hi,
                                             uint64_t max_bytes) const override;
  absl::StatusOr<sluice::Term> TermAt(LogIndex i) const override;
  absl::StatusOr<LogIndex> FirstIndex() const override;
  absl::StatusOr<LogIndex> LastIndex() const override;
  absl::StatusOr<raft::Snapshot> GetSnapshot() const override;

  // Writers, called by the node's owner while handling a Ready.
  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  // Replaces everything with `snap`. SnapshotOutOfDate if it is older than the current one.
  absl::Status ApplySnapshot(raft::Snapshot snap);
  // Makes a snapshot at applied index i (<= LastIndex) with the given state image. `cs` replaces
  // the membership if given. SnapshotOutOfDate if i <= the current snapshot index.
  absl::StatusOr<raft::Snapshot> CreateSnapshot(LogIndex i, std::optional<ConfState> cs,
                                                std::string data);
  // Discards entries up to and including `compact_index` (which must be <= LastIndex).
  // Compacted if already compacted.
  absl::Status Compact(LogIndex compact_index);
  // Appends entries, truncating any conflicting suffix. Entries at or below the snapshot are
  // ignored; a gap after LastIndex() is a caller bug and crashes.
  void Append(std::vector<Entry> entries);

 private:
  LogIndex Offset() const { return entries_[0].index; }
  LogIndex LastIndexLocked() const;

  HardState hard_state_;
  raft::Snapshot snapshot_;
  // entries_[0] is a dummy holding the snapshot's index and term.
  std::vector<Entry> entries_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_STORAGE_H_
