#include "cluster/raft/storage.h"

#include <algorithm>

#include "base/check.h"

namespace sluice::raft {

absl::Status LogCompactedError() {
  return absl::OutOfRangeError("raft: requested index is unavailable due to compaction");
}
absl::Status EntryUnavailableError() {
  return absl::NotFoundError("raft: requested entry at index is unavailable");
}
absl::Status SnapshotTemporarilyUnavailableError() {
  return absl::UnavailableError("raft: snapshot is temporarily unavailable");
}
absl::Status SnapshotOutOfDateError() {
  return absl::FailedPreconditionError("raft: requested index is older than the existing snapshot");
}
bool IsLogCompacted(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }
bool IsEntryUnavailable(const absl::Status& s) { return s.code() == absl::StatusCode::kNotFound; }
bool IsSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable;
}
bool IsSnapshotOutOfDate(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition;
}

MemoryStorage::MemoryStorage() : entries_(1) {}

MemoryStorage::MemoryStorage(ConfState conf_state) : entries_(1) {
  snapshot_.metadata.conf_state = std::move(conf_state);
}

absl::StatusOr<PersistedState> MemoryStorage::InitialState() const {
  return PersistedState{hard_state_, snapshot_.metadata.conf_state};
}

LogIndex MemoryStorage::LastIndexLocked() const {
  return LogIndex(Offset().value() + entries_.size() - 1);
}

absl::StatusOr<std::vector<Entry>> MemoryStorage::Entries(LogIndex lo, LogIndex hi,
                                                          uint64_t max_bytes) const {
  if (lo <= Offset()) return LogCompactedError();
  SLUICE_CHECK_MSG(hi <= LastIndexLocked().Next(), "entries past the last index");
  // Only the dummy entry: nothing stored.
  if (entries_.size() == 1) return EntryUnavailableError();
  const uint64_t off = Offset().value();
  std::vector<Entry> out(entries_.begin() + (lo.value() - off), entries_.begin() + (hi.value() - off));
  LimitSize(out, max_bytes);
  return out;
}

absl::StatusOr<Term> MemoryStorage::TermAt(LogIndex i) const {
  if (i < Offset()) return LogCompactedError();
  if (i.value() - Offset().value() >= entries_.size()) return EntryUnavailableError();
  return entries_[i.value() - Offset().value()].term;
}

absl::StatusOr<LogIndex> MemoryStorage::FirstIndex() const { return Offset().Next(); }

absl::StatusOr<LogIndex> MemoryStorage::LastIndex() const { return LastIndexLocked(); }

absl::StatusOr<Snapshot> MemoryStorage::GetSnapshot() const { return snapshot_; }

absl::Status MemoryStorage::ApplySnapshot(Snapshot snap) {
  if (snapshot_.metadata.index >= snap.metadata.index) return SnapshotOutOfDateError();
  entries_.assign(1, Entry{snap.metadata.term, snap.metadata.index, EntryType::kNormal, {}});
  snapshot_ = std::move(snap);
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> MemoryStorage::CreateSnapshot(LogIndex i, std::optional<ConfState> cs,
                                                       std::string data) {
  if (i <= snapshot_.metadata.index) return SnapshotOutOfDateError();
  SLUICE_CHECK_MSG(i <= LastIndexLocked(), "snapshot past the last index");
  snapshot_.metadata.index = i;
  snapshot_.metadata.term = entries_[i.value() - Offset().value()].term;
  if (cs) snapshot_.metadata.conf_state = std::move(*cs);
  snapshot_.data = std::move(data);
  return snapshot_;
}

absl::Status MemoryStorage::Compact(LogIndex compact_index) {
  if (compact_index <= Offset()) return LogCompactedError();
  SLUICE_CHECK_MSG(compact_index <= LastIndexLocked(), "compact past the last index");
  const size_t i = compact_index.value() - Offset().value();
  std::vector<Entry> kept;
  kept.reserve(entries_.size() - i);
  kept.push_back(Entry{entries_[i].term, entries_[i].index, EntryType::kNormal, {}});
  kept.insert(kept.end(), std::make_move_iterator(entries_.begin() + i + 1),
              std::make_move_iterator(entries_.end()));
  entries_ = std::move(kept);
  return absl::OkStatus();
}

void MemoryStorage::Append(std::vector<Entry> entries) {
  if (entries.empty()) return;
  const LogIndex first = Offset().Next();
  const LogIndex last_new = entries.back().index;
  if (last_new < first) return;  // all compacted
  if (entries.front().index < first) {
    entries.erase(entries.begin(), entries.begin() + (first.value() - entries.front().index.value()));
  }
  const uint64_t offset = entries.front().index.value() - Offset().value();
  SLUICE_CHECK_MSG(offset <= entries_.size(), "missing log entries before append");
  entries_.resize(offset);  // truncates a conflicting suffix (or nothing)
  entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()),
                  std::make_move_iterator(entries.end()));
}

}  // namespace sluice::raft
