// Retention policy: how far a partition's start may move, as a pure function of the partition's
// sparse index, its live cursors, the limits and the time. No I/O, no clock: the time comes in
// the retention command, so every replica of a partition decides the same (see README.md).
//
// Rules:
//   - Deletion is whole index blocks: the new start is always an index entry's offset, or the
//     high watermark (everything expired). A block is deleted by time only when its first
//     record's log time is already older than the cutoff, so nothing newer than the cutoff is
//     ever deleted; by size, the oldest blocks go until the rest fits (the newest block always
//     stays, so a partition can exceed `retention_bytes` by less than one block).
//   - Soft limits (retention_ms, retention_bytes) never move the start past the lowest live
//     cursor (rounded down to its block). Hard limits (hard_retention_*) do; then the decision
//     says how many records a live cursor lost, and the caller counts and logs it.
// Thread-safe (pure).
#ifndef SLUICE_STORAGE_LOG_RETENTION_H_
#define SLUICE_STORAGE_LOG_RETENTION_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "base/ids.h"

namespace sluice::storage {

// One entry of a partition's sparse index: the record at `offset` starts a block.
struct IndexEntry {
  Offset offset;
  int64_t log_time_ms = 0;    // max record timestamp up to and including this record
  uint64_t bytes_before = 0;  // record bytes ever appended to the partition before `offset`
  // The Raft log entry holding the record at `offset` (the partition's Raft log is where its
  // records live); 0 for a block stored outside the Raft log (imported: keys.h 'r').
  LogIndex raft_index;
  bool operator==(const IndexEntry&) const = default;
};

struct RetentionLimits {
  int64_t retention_ms = 0;          // 0 = no time limit
  uint64_t retention_bytes = 0;      // 0 = no size limit
  int64_t hard_retention_ms = 0;     // 0 = none: cursors are always respected
  uint64_t hard_retention_bytes = 0;
};

struct RetentionInput {
  Offset start;  // log start offset (== index.front().offset when the index is not empty)
  Offset next;   // high watermark: one past the last record
  uint64_t bytes_appended = 0;
  int64_t max_log_time_ms = 0;
  const std::deque<IndexEntry>* index = nullptr;
  std::optional<Offset> min_live_cursor;
  int64_t now_ms = 0;
};

struct RetentionDecision {
  Offset new_start;                  // == start: nothing to delete
  uint64_t records_past_cursor = 0;  // > 0: a hard limit deleted records a live cursor needs
};

RetentionDecision DecideRetention(const RetentionInput& in, const RetentionLimits& limits);

// Offset of the last index entry at or before `offset` (`start` if none).
Offset FloorToIndex(const std::deque<IndexEntry>& index, Offset start, Offset offset);

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_RETENTION_H_
