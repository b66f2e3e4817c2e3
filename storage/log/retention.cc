#include "storage/log/retention.h"

#include <algorithm>

namespace sluice::storage {
namespace {

// First offset to keep so that nothing older than `cutoff_ms` is deleted that should stay.
Offset TimeTarget(const RetentionInput& in, int64_t retention_ms) {
  if (retention_ms <= 0 || in.index->empty()) return in.start;
  const int64_t cutoff = in.now_ms - retention_ms;
  if (in.max_log_time_ms < cutoff) return in.next;  // everything expired
  // Last block whose first record is already older than the cutoff: everything before it is.
  Offset target = in.start;
  for (const IndexEntry& e : *in.index) {
    if (e.log_time_ms >= cutoff) break;
    target = e.offset;
  }
  return target;
}

Offset SizeTarget(const RetentionInput& in, uint64_t retention_bytes) {
  if (retention_bytes == 0 || in.index->empty()) return in.start;
  for (const IndexEntry& e : *in.index) {
    if (in.bytes_appended - e.bytes_before <= retention_bytes) return e.offset;
  }
  return in.index->back().offset;
}

}  // namespace

Offset FloorToIndex(const std::deque<IndexEntry>& index, Offset start, Offset offset) {
  auto it = std::upper_bound(index.begin(), index.end(), offset,
                             [](Offset o, const IndexEntry& e) { return o < e.offset; });
  if (it == index.begin()) return start;
  return std::max(start, std::prev(it)->offset);
}

RetentionDecision DecideRetention(const RetentionInput& in, const RetentionLimits& limits) {
  const Offset soft = std::max(TimeTarget(in, limits.retention_ms),
                               SizeTarget(in, limits.retention_bytes));
  const Offset hard = std::max(TimeTarget(in, limits.hard_retention_ms),
                               SizeTarget(in, limits.hard_retention_bytes));
  Offset allowed = soft;
  std::optional<Offset> cursor;
  if (in.min_live_cursor) {
    cursor = std::clamp(*in.min_live_cursor, in.start, in.next);
    // A cursor at the high watermark has read everything: the whole log may go.
    const Offset floor = *cursor == in.next ? in.next : FloorToIndex(*in.index, in.start, *cursor);
    allowed = std::min(allowed, floor);
  }
  RetentionDecision d;
  d.new_start = std::clamp(std::max(allowed, hard), in.start, in.next);
  if (cursor && d.new_start > *cursor) d.records_past_cursor = d.new_start.value() - cursor->value();
  return d;
}

}  // namespace sluice::storage
