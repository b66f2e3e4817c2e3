// LogState read side: any thread. See log_state.h for the locking.
#include <algorithm>
#include <memory>
#include <mutex>

#include "base/check.h"
#include "base/status.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/storage/keys.h"
#include "rocksdb/db.h"
#include "storage/log/log_state.h"
#include "storage/log/partition.h"
#include "storage/log/rocksdb_util.h"

namespace sluice::storage {
namespace {

absl::Status NoPartition(PartitionId p) {
  return absl::InvalidArgumentError("commit log: no partition " + std::to_string(p.value()));
}

absl::Status Hole(Offset at) {
  return absl::DataLossError("commit log: committed record " + std::to_string(at.value()) +
                             " missing");
}

}  // namespace

LogState::Position LogState::StartFor(const Partition& part, Offset from) const {
  // The block holding `from` (the last entry at or before it)...
  auto it = std::upper_bound(part.index.begin(), part.index.end(), from,
                             [](Offset o, const IndexEntry& e) { return o < e.offset; });
  SLUICE_CHECK_MSG(it != part.index.begin(), "commit log: no index block for a readable offset");
  --it;
  Position best{it->offset, it->raft_index};
  // ...or a later place in it where an earlier read stopped (a consumer reading on).
  std::lock_guard<std::mutex> l(part.positions_mu);
  for (const Position& p : part.positions) {
    if (p.raft_index.value() > 0 && p.offset <= from && p.offset > best.offset) best = p;
  }
  return best;
}

namespace {

// An iterator with its upper bound, which must outlive it.
struct BoundedIterator {
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
};

std::unique_ptr<BoundedIterator> OpenBounded(rocksdb::DB* db, const std::string& lo,
                                             std::string hi) {
  auto r = std::make_unique<BoundedIterator>();
  r->upper = std::move(hi);
  r->upper_slice = rocksdb::Slice(r->upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &r->upper_slice;
  r->it.reset(db->NewIterator(ro));
  r->it->Seek(lo);
  return r;
}

// The append command in a committed Raft entry of a partition, or an empty view when the
// entry carries something else (a cursor, retention, a membership change, a leader's no-op).
absl::StatusOr<std::string_view> AppendedRecord(std::string_view entry_value) {
  ASSIGN_OR_RETURN(raftstore::EntryView e, raftstore::DecodeEntryView(entry_value));
  if (e.type != raft::EntryType::kNormal || e.data.empty()) return std::string_view();
  ASSIGN_OR_RETURN(multiraft::DecodedProposal p, multiraft::DecodeProposal(e.data));
  if (p.payload.empty()) return std::string_view();
  const auto type = static_cast<CommandType>(p.payload[0]);
  if (type != CommandType::kAppend && type != CommandType::kAppendQos2) {
    return std::string_view();
  }
  ASSIGN_OR_RETURN(Command c, DecodeCommand(p.payload));
  return c.record;
}

}  // namespace

// What a read opened under the partition's lock: iterators over exactly what was readable.
struct LogState::ReadPlan {
  Offset from, end;
  Offset imported_end;
  Position start;
  std::unique_ptr<BoundedIterator> imported;  // 'r' keys in [from, min(end, imported_end))
  std::unique_ptr<BoundedIterator> raft;      // Raft entries from start.raft_index to applied
};

absl::Status LogState::PlanRead(const Partition& part, Offset from, ReadPlan* plan) const {
  std::shared_lock<std::shared_mutex> l(part.mu);
  const PartitionMeta& m = part.meta;
  if (from < m.start) {
    return absl::OutOfRangeError("commit log: offset " + std::to_string(from.value()) +
                                 " is before the log start " + std::to_string(m.start.value()));
  }
  if (from > m.next) {
    return absl::OutOfRangeError("commit log: offset " + std::to_string(from.value()) +
                                 " is past the high watermark " + std::to_string(m.next.value()));
  }
  plan->from = from;
  plan->end = m.next;
  plan->imported_end = m.imported_end;
  if (from == m.next) return absl::OkStatus();
  // Opened under the lock: their implicit snapshots hold exactly what [start, next) needs
  // (retention, which moves the start, waits for the lock; the Raft log is compacted only
  // below the start).
  if (from < m.imported_end) {
    plan->imported = OpenBounded(db_, RecordKey(part.id, from),
                                 RecordKey(part.id, std::min(m.next, m.imported_end)));
  }
  if (m.next > m.imported_end) {
    plan->start = StartFor(part, std::max(from, m.imported_end));
    const GroupId g = GroupOf(part.id);
    plan->raft = OpenBounded(db_, raftstore::EntryKey(g, plan->start.raft_index),
                             raftstore::EntryKey(g, m.applied.Next()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredRecord>> LogState::Read(PartitionId p, Offset from,
                                                         size_t max_records,
                                                         uint64_t max_bytes) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  ReadPlan plan;
  RETURN_IF_ERROR(PlanRead(*part, from, &plan));
  std::vector<StoredRecord> out;
  if (from == plan.end || max_records == 0) return out;
  uint64_t bytes = 0;
  // Always at least one record, then within max_records and max_bytes.
  auto room = [&](size_t size) {
    return out.size() < max_records && (out.empty() || bytes + size <= max_bytes);
  };
  Offset expect = from;
  if (plan.imported) {
    rocksdb::Iterator& it = *plan.imported->it;
    for (; it.Valid(); it.Next()) {
      const rocksdb::Slice v = it.value();
      if (!room(v.size())) return out;
      const Offset o = KeyOffset(std::string_view(it.key().data(), it.key().size()));
      if (o != expect) return Hole(expect);
      ASSIGN_OR_RETURN(Record rec, DecodeRecord(std::string_view(v.data(), v.size())));
      out.push_back(StoredRecord{o, std::move(rec)});
      bytes += v.size();
      expect = o.Next();
    }
    RETURN_IF_ERROR(FromRocksDb(it.status()));
    if (expect < std::min(plan.end, plan.imported_end)) return Hole(expect);
  }
  if (!plan.raft || expect == plan.end) return out;
  rocksdb::Iterator& it = *plan.raft->it;
  Offset at = plan.start.offset;  // the offset of the next record the walk meets
  LogIndex last_index;
  for (; it.Valid() && at < plan.end; it.Next()) {
    const rocksdb::Slice v = it.value();
    ASSIGN_OR_RETURN(std::string_view record, AppendedRecord(std::string_view(v.data(), v.size())));
    if (record.empty()) continue;
    const Offset o = at;
    at = at.Next();
    if (o < expect) continue;  // before `from` in its block
    if (!room(record.size())) break;
    ASSIGN_OR_RETURN(Record rec, DecodeRecord(record));
    out.push_back(StoredRecord{o, std::move(rec)});
    bytes += record.size();
    expect = o.Next();
    last_index = raftstore::EntryKeyIndex(std::string_view(it.key().data(), it.key().size()));
  }
  RETURN_IF_ERROR(FromRocksDb(it.status()));
  if (!it.Valid() && at < plan.end) return Hole(at);  // the walk ran out of entries
  if (out.empty()) return Hole(expect);
  if (last_index.value() > 0) RememberPosition(*part, Position{expect, last_index.Next()});
  return out;
}

void LogState::RememberPosition(const Partition& part, Position pos) const {
  std::lock_guard<std::mutex> l(part.positions_mu);
  part.positions[part.next_position++ % part.positions.size()] = pos;
}

absl::StatusOr<Offset> LogState::OffsetForTime(PartitionId p, int64_t timestamp_ms) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  Offset from;
  int64_t log_time = 0;
  {
    std::shared_lock<std::shared_mutex> l(part->mu);
    if (part->index.empty() || part->meta.max_log_time_ms < timestamp_ms) return part->meta.next;
    // The last block whose first log time is before `timestamp_ms`; the answer is in it.
    auto it = std::lower_bound(part->index.begin(), part->index.end(), timestamp_ms,
                               [](const IndexEntry& e, int64_t t) { return e.log_time_ms < t; });
    if (it == part->index.begin()) return part->meta.start;
    --it;
    from = it->offset;
    log_time = it->log_time_ms;
  }
  // Log time is the running maximum of record timestamps, so it never decreases: read the
  // block's records (in chunks, timestamps only) until it reaches `timestamp_ms`.
  while (true) {
    absl::StatusOr<std::vector<StoredRecord>> chunk = Read(p, from, 256, UINT64_MAX);
    if (absl::IsOutOfRange(chunk.status())) return Info(p)->log_start;  // retention ran
    RETURN_IF_ERROR(chunk.status());
    if (chunk->empty()) return from;  // reached the high watermark
    for (const StoredRecord& r : *chunk) {
      log_time = std::max(log_time, r.record.timestamp_ms);
      if (log_time >= timestamp_ms) return r.offset;
    }
    from = chunk->back().offset.Next();
  }
}

absl::StatusOr<PartitionInfo> LogState::Info(PartitionId p) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::shared_lock<std::shared_mutex> l(part->mu);
  PartitionInfo info;
  info.log_start = part->meta.start;
  info.high_watermark = part->meta.next;
  info.bytes = part->index.empty()
                   ? 0 : part->meta.bytes_appended - part->index.front().bytes_before;
  info.max_log_time_ms = part->meta.max_log_time_ms;
  info.applied = part->meta.applied;
  info.cursors = part->cursors.size();
  info.index_entries = part->index.size();
  info.records_deleted = part->records_deleted.load();
  info.records_deleted_past_cursor = part->records_deleted_past_cursor.load();
  return info;
}

absl::StatusOr<CursorInfo> LogState::GetCursor(PartitionId p, std::string_view name) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::shared_lock<std::shared_mutex> l(part->mu);
  auto it = part->cursors.find(name);
  if (it == part->cursors.end()) {
    return absl::NotFoundError("commit log: no cursor " + std::string(name));
  }
  return it->second;
}

absl::StatusOr<std::vector<CursorInfo>> LogState::ListCursors(PartitionId p) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::shared_lock<std::shared_mutex> l(part->mu);
  std::vector<CursorInfo> out;
  for (const auto& [name, c] : part->cursors) out.push_back(c);
  return out;
}

absl::StatusOr<RetentionDecision> LogState::PreviewRetention(PartitionId p, int64_t now_ms,
                                                             bool* cursors_expired) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::shared_lock<std::shared_mutex> l(part->mu);
  const PartitionMeta& m = part->meta;
  RetentionInput in{m.start, m.next, m.bytes_appended, m.max_log_time_ms, &part->index,
                    MinLiveCursor(*part, now_ms), now_ms};
  *cursors_expired = false;
  for (const auto& [name, c] : part->cursors) *cursors_expired |= !c.Live(now_ms);
  return DecideRetention(in, options_.retention);
}

absl::StatusOr<std::vector<PendingQos2>> LogState::ListPendingQos2() const {
  std::vector<PendingQos2> out;
  RETURN_IF_ERROR(ScanPrefix(db_, std::string(1, kQos2Prefix),
                             PrefixSuccessor(std::string(1, kQos2Prefix)),
                             [&](std::string_view k, std::string_view v) -> absl::Status {
                               ASSIGN_OR_RETURN(Qos2KeyFields f, DecodeQos2Key(k));
                               if (v.size() != 8) {
                                 return absl::DataLossError("commit log: malformed qos 2 value");
                               }
                               out.push_back(PendingQos2{f.partition, std::string(f.publisher),
                                                         f.packet_id, Offset(GetFixed64(v))});
                               return absl::OkStatus();
                             }));
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> LogState::ListRetained() const {
  std::vector<StoredRecord> out;
  RETURN_IF_ERROR(ScanPrefix(db_, std::string(1, kRetainedPrefix),
                             PrefixSuccessor(std::string(1, kRetainedPrefix)),
                             [&](std::string_view, std::string_view v) -> absl::Status {
                               if (v.size() < 8) {
                                 return absl::DataLossError("commit log: malformed retained value");
                               }
                               ASSIGN_OR_RETURN(Record r, DecodeRecord(v.substr(8)));
                               out.push_back(StoredRecord{Offset(GetFixed64(v)), std::move(r)});
                               return absl::OkStatus();
                             }));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> LogState::ScanState(
    std::string_view prefix) const {
  const std::string lo = StateKey(prefix);
  std::vector<std::pair<std::string, std::string>> out;
  RETURN_IF_ERROR(ScanPrefix(db_, lo, PrefixSuccessor(lo),
                             [&](std::string_view k, std::string_view v) -> absl::Status {
                               out.emplace_back(std::string(k.substr(1)), std::string(v));
                               return absl::OkStatus();
                             }));
  return out;
}

std::vector<IndexEntry> LogState::IndexForTesting(PartitionId p) const {
  const Partition* part = Find(p);
  std::shared_lock<std::shared_mutex> l(part->mu);
  return {part->index.begin(), part->index.end()};
}

}  // namespace sluice::storage
