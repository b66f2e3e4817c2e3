#include "cluster/raft/log.h"

#include <algorithm>

#include "base/check.h"

namespace sluice::raft {
namespace {

LogIndex MustIndex(const absl::StatusOr<LogIndex>& i) {
  SLUICE_CHECK_OK(i.status());  // MemoryStorage never fails; a real store failing here is fatal
  return *i;
}

}  // namespace

RaftLog::RaftLog(LogStorage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage),
      unstable_(MustIndex(storage->LastIndex()).Next()),
      max_committed_bytes_per_ready_(max_committed_bytes_per_ready) {
  // Everything up to the snapshot is committed and applied by definition.
  const LogIndex first = MustIndex(storage->FirstIndex());
  committed_ = first.Prev();
  applied_ = first.Prev();
}

std::optional<LogIndex> RaftLog::MaybeAppend(LogIndex index, Term log_term, LogIndex committed,
                                             const std::vector<Entry>& entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const LogIndex last_new(index.value() + entries.size());
  const LogIndex ci = FindConflict(entries);
  if (ci != LogIndex(0)) {
    SLUICE_CHECK_MSG(ci > committed_, "entry conflicts with a committed entry");
    const size_t skip = ci.value() - index.value() - 1;
    Append(std::vector<Entry>(entries.begin() + skip, entries.end()));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

LogIndex RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return LastIndex();
  SLUICE_CHECK_MSG(entries.front().index.Prev() >= committed_, "append would overwrite commits");
  unstable_.TruncateAndAppend(entries);
  return LastIndex();
}

LogIndex RaftLog::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return LogIndex(0);
}

std::pair<LogIndex, Term> RaftLog::FindConflictByTerm(LogIndex index, Term term) const {
  while (true) {
    absl::StatusOr<Term> t = TermAt(index);
    if (!t.ok()) return {index, Term(0)};
    if (*t <= term) return {index, *t};
    index = index.Prev();
  }
}

bool RaftLog::HasNextCommittedEntries() const {
  const LogIndex off = std::max(applied_.Next(), FirstIndex());
  return committed_.Next() > off;
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  if (HasPendingSnapshot()) return {};  // the snapshot must be applied first
  const LogIndex off = std::max(applied_.Next(), FirstIndex());
  if (committed_.Next() <= off) return {};
  absl::StatusOr<std::vector<Entry>> ents =
      Slice(off, committed_.Next(), max_committed_bytes_per_ready_);
  SLUICE_CHECK_OK(ents.status());
  return *std::move(ents);
}

bool RaftLog::HasPendingSnapshot() const {
  return unstable_.snapshot() && !unstable_.snapshot()->IsEmpty();
}

absl::StatusOr<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->GetSnapshot();
}

LogIndex RaftLog::FirstIndex() const {
  if (std::optional<LogIndex> i = unstable_.MaybeFirstIndex()) return *i;
  return MustIndex(storage_->FirstIndex());
}

LogIndex RaftLog::LastIndex() const {
  if (std::optional<LogIndex> i = unstable_.MaybeLastIndex()) return *i;
  return MustIndex(storage_->LastIndex());
}

Term RaftLog::LastTerm() const {
  absl::StatusOr<Term> t = TermAt(LastIndex());
  SLUICE_CHECK_OK(t.status());
  return *t;
}

absl::StatusOr<Term> RaftLog::TermAt(LogIndex i) const {
  // The valid range is [first-1, last]; the term of first-1 is the snapshot's.
  const LogIndex dummy = FirstIndex().Prev();
  if (i < dummy || i > LastIndex()) return Term(0);
  if (std::optional<Term> t = unstable_.MaybeTerm(i)) return *t;
  absl::StatusOr<Term> t = storage_->TermAt(i);
  if (t.ok() || IsLogCompacted(t.status()) || IsEntryUnavailable(t.status())) return t;
  SLUICE_CHECK_OK(t.status());
  return t;
}

Term RaftLog::ZeroTermOnCompacted(LogIndex i) const {
  absl::StatusOr<Term> t = TermAt(i);
  if (t.ok()) return *t;
  SLUICE_CHECK_MSG(IsLogCompacted(t.status()), "unexpected storage error");
  return Term(0);
}

absl::StatusOr<std::vector<Entry>> RaftLog::EntriesFrom(LogIndex i, uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<Entry>{};
  return Slice(i, LastIndex().Next(), max_bytes);
}

absl::StatusOr<std::vector<Entry>> RaftLog::Slice(LogIndex lo, LogIndex hi,
                                                  uint64_t max_bytes) const {
  SLUICE_CHECK(lo <= hi);
  if (lo < FirstIndex()) return LogCompactedError();
  SLUICE_CHECK_MSG(hi <= LastIndex().Next(), "slice past the last index");
  if (lo == hi) return std::vector<Entry>{};
  std::vector<Entry> ents;
  const LogIndex off = unstable_.offset();
  if (lo < off) {
    const LogIndex stored_hi = std::min(hi, off);
    absl::StatusOr<std::vector<Entry>> stored = storage_->Entries(lo, stored_hi, max_bytes);
    if (!stored.ok()) {
      if (IsLogCompacted(stored.status())) return stored.status();
      SLUICE_CHECK_OK(stored.status());  // unavailable inside [first, last] is a bug
    }
    // The size limit cut the stored part short: do not add unstable entries after a gap.
    if (stored->size() < stored_hi.value() - lo.value()) return *std::move(stored);
    ents = *std::move(stored);
  }
  if (hi > off) {
    std::vector<Entry> tail = unstable_.Slice(std::max(lo, off), hi);
    ents.insert(ents.end(), std::make_move_iterator(tail.begin()),
                std::make_move_iterator(tail.end()));
  }
  LimitSize(ents, max_bytes);
  return ents;
}

bool RaftLog::IsUpToDate(LogIndex last_index, Term last_term) const {
  const Term our_term = LastTerm();
  return last_term > our_term || (last_term == our_term && last_index >= LastIndex());
}

bool RaftLog::MatchTerm(LogIndex i, Term t) const {
  absl::StatusOr<Term> got = TermAt(i);
  return got.ok() && *got == t;
}

bool RaftLog::MaybeCommit(LogIndex max_index, Term term) {
  // Only an entry of the leader's own term commits by counting replicas (Raft §5.4.2);
  // earlier entries commit indirectly with it.
  if (max_index > committed_ && ZeroTermOnCompacted(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(LogIndex to_commit) {
  if (committed_ >= to_commit) return;  // never decrease
  SLUICE_CHECK_MSG(to_commit <= LastIndex(), "commit past the last index (log lost or corrupt?)");
  committed_ = to_commit;
}

void RaftLog::AppliedTo(LogIndex i) {
  if (i == LogIndex(0)) return;
  SLUICE_CHECK_MSG(committed_ >= i && i >= applied_, "applied out of range");
  applied_ = i;
}

void RaftLog::Restore(Snapshot snap) {
  committed_ = snap.metadata.index;
  unstable_.Restore(std::move(snap));
}

}  // namespace sluice::raft
