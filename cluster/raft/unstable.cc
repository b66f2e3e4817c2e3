#include "cluster/raft/unstable.h"

#include "base/check.h"

namespace sluice::raft {

std::optional<LogIndex> Unstable::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata.index.Next();
  return std::nullopt;
}

std::optional<LogIndex> Unstable::MaybeLastIndex() const {
  if (!entries_.empty()) return LogIndex(offset_.value() + entries_.size() - 1);
  if (snapshot_) return snapshot_->metadata.index;
  return std::nullopt;
}

std::optional<Term> Unstable::MaybeTerm(LogIndex i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata.index == i) return snapshot_->metadata.term;
    return std::nullopt;
  }
  std::optional<LogIndex> last = MaybeLastIndex();
  if (!last || i > *last) return std::nullopt;
  return entries_[i.value() - offset_.value()].term;
}

void Unstable::StableTo(LogIndex i, Term t) {
  std::optional<Term> gt = MaybeTerm(i);
  if (!gt) return;
  // Only if the entry is still the one that was persisted (it may have been truncated and
  // replaced by a newer leader's entry since the Ready was handed out).
  if (*gt == t && i >= offset_) {
    entries_.erase(entries_.begin(), entries_.begin() + (i.value() + 1 - offset_.value()));
    offset_ = i.Next();
  }
}

void Unstable::StableSnapTo(LogIndex i) {
  if (snapshot_ && snapshot_->metadata.index == i) snapshot_.reset();
}

void Unstable::Restore(Snapshot snap) {
  offset_ = snap.metadata.index.Next();
  entries_.clear();
  snapshot_ = std::move(snap);
}

void Unstable::TruncateAndAppend(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const LogIndex after = entries.front().index;
  if (after.value() == offset_.value() + entries_.size()) {
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  } else if (after <= offset_) {
    // Replaces all unstable entries (and some stable ones, which the owner will overwrite).
    offset_ = after;
    entries_ = entries;
  } else {
    entries_.resize(after.value() - offset_.value());
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
}

std::vector<Entry> Unstable::Slice(LogIndex lo, LogIndex hi) const {
  SLUICE_CHECK(lo <= hi);
  SLUICE_CHECK(offset_ <= lo && hi.value() <= offset_.value() + entries_.size());
  return std::vector<Entry>(entries_.begin() + (lo.value() - offset_.value()),
                            entries_.begin() + (hi.value() - offset_.value()));
}

}  // namespace sluice::raft
