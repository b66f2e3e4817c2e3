// RaftLog: the node's view of its log, stitching stable storage (read-only) to the unstable
// tail, plus the commit and applied indexes. Owned by Raft; borrows the LogStorage, which must
// outlive it. Thread-compatible. Moving commit backwards or past the last index crashes.
#ifndef SLUICE_CLUSTER_RAFT_LOG_H_
#define SLUICE_CLUSTER_RAFT_LOG_H_

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/storage.h"
#include "cluster/raft/types.h"
#include "cluster/raft/unstable.h"

namespace sluice::raft {

class RaftLog {
 public:
  // max_committed_bytes_per_ready bounds NextCommittedEntries().
  RaftLog(LogStorage* storage, uint64_t max_committed_bytes_per_ready);

  // Follower append: if the entry at `index` has `log_term`, appends `entries` after it
  // (truncating a conflicting suffix), commits up to min(committed, last new index) and returns
  // that last new index; otherwise nullopt.
  std::optional<LogIndex> MaybeAppend(LogIndex index, Term log_term, LogIndex committed,
                                      const std::vector<Entry>& entries);
  // Appends entries that follow (or overwrite uncommitted) entries; returns the last index.
  LogIndex Append(const std::vector<Entry>& entries);
  // Index of the first entry whose term differs from ours, or 0 if all match (or are new past
  // the end: returns the first new index).
  LogIndex FindConflict(const std::vector<Entry>& entries) const;
  // Largest index <= `index` whose term is <= `term`, with that term (0 if unknown/compacted).
  // Used for fast backtracking of rejected appends.
  std::pair<LogIndex, Term> FindConflictByTerm(LogIndex index, Term term) const;

  const std::vector<Entry>& UnstableEntries() const { return unstable_.entries(); }
  // Committed but not yet applied entries, bounded by max_committed_bytes_per_ready.
  std::vector<Entry> NextCommittedEntries() const;
  bool HasNextCommittedEntries() const;
  const std::optional<Snapshot>& PendingSnapshot() const { return unstable_.snapshot(); }
  bool HasPendingSnapshot() const;
  absl::StatusOr<Snapshot> GetSnapshot() const;

  LogIndex FirstIndex() const;
  LogIndex LastIndex() const;
  Term LastTerm() const;
  // Term of entry i: 0 with OK for indexes outside [first-1, last]; Compacted/Unavailable errors.
  absl::StatusOr<Term> TermAt(LogIndex i) const;
  // Term at i, or 0 if compacted (unavailable is a bug).
  Term ZeroTermOnCompacted(LogIndex i) const;
  // Entries from i to the end, at most max_bytes (at least one).
  absl::StatusOr<std::vector<Entry>> EntriesFrom(LogIndex i, uint64_t max_bytes) const;
  // Entries in [lo, hi), at most max_bytes (at least one). Compacted if lo < FirstIndex().
  absl::StatusOr<std::vector<Entry>> Slice(LogIndex lo, LogIndex hi, uint64_t max_bytes) const;
  // Whether a log ending at (last_index, last_term) is at least as up to date as ours.
  bool IsUpToDate(LogIndex last_index, Term last_term) const;
  bool MatchTerm(LogIndex i, Term t) const;
  // Leader commit rule: commits max_index only if its entry has `term` (the current term).
  bool MaybeCommit(LogIndex max_index, Term term);
  void CommitTo(LogIndex to_commit);
  void AppliedTo(LogIndex i);
  void StableTo(LogIndex i, Term t) { unstable_.StableTo(i, t); }
  void StableSnapTo(LogIndex i) { unstable_.StableSnapTo(i); }
  void Restore(Snapshot snap);

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }

 private:
  LogStorage* storage_;  // not owned
  Unstable unstable_;
  LogIndex committed_;
  LogIndex applied_;
  uint64_t max_committed_bytes_per_ready_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_LOG_H_
