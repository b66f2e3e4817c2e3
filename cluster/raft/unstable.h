// The part of the log not yet known to be durable: entries (and possibly an incoming snapshot)
// handed to the owner in a Ready but not yet confirmed by Advance. Owned by RaftLog.
// Thread-compatible. Index arithmetic outside the held range is a bug and crashes.
#ifndef SLUICE_CLUSTER_RAFT_UNSTABLE_H_
#define SLUICE_CLUSTER_RAFT_UNSTABLE_H_

#include <optional>
#include <vector>

#include "base/ids.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

class Unstable {
 public:
  explicit Unstable(LogIndex offset) : offset_(offset) {}

  // First index, if an unstable snapshot is held (snapshot index + 1).
  std::optional<LogIndex> MaybeFirstIndex() const;
  // Last index, if any entries or a snapshot are held.
  std::optional<LogIndex> MaybeLastIndex() const;
  std::optional<Term> MaybeTerm(LogIndex i) const;

  // Entries up to (i, t) are now durable. Ignored if the entry at i has since changed term.
  void StableTo(LogIndex i, Term t);
  void StableSnapTo(LogIndex i);
  void Restore(Snapshot snap);
  // Appends entries, discarding any held suffix that they overwrite.
  void TruncateAndAppend(const std::vector<Entry>& entries);
  // Entries in [lo, hi); both must lie within [offset, offset + size].
  std::vector<Entry> Slice(LogIndex lo, LogIndex hi) const;

  const std::vector<Entry>& entries() const { return entries_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  LogIndex offset() const { return offset_; }

 private:
  std::optional<Snapshot> snapshot_;
  std::vector<Entry> entries_;
  LogIndex offset_;  // index of entries_[0]
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_UNSTABLE_H_
