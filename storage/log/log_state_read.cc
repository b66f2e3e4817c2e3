// LogState read side: any thread. See log_state.h for the locking.
#include <algorithm>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "rocksdb/db.h"
#include "storage/log/log_state.h"
#include "storage/log/partition.h"
#include "storage/log/rocksdb_util.h"

namespace sluice::storage {
namespace {

absl::Status NoPartition(PartitionId p) {
  return absl::InvalidArgumentError("commit log: no partition " + std::to_string(p.value()));
}

// An iterator over [RecordKey(p, from), RecordKey(p, end)); the bound outlives the iterator.
struct RecordIterator {
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
};

std::unique_ptr<RecordIterator> OpenRecords(rocksdb::DB* db, PartitionId p, Offset from,
                                            Offset end) {
  auto r = std::make_unique<RecordIterator>();
  r->upper = RecordKey(p, end);
  r->upper_slice = rocksdb::Slice(r->upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &r->upper_slice;
  r->it.reset(db->NewIterator(ro));
  r->it->Seek(RecordKey(p, from));
  return r;
}

}  // namespace

absl::StatusOr<std::vector<StoredRecord>> LogState::Read(PartitionId p, Offset from,
                                                         size_t max_records,
                                                         uint64_t max_bytes) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::unique_ptr<RecordIterator> r;
  {
    std::shared_lock<std::shared_mutex> l(part->mu);
    if (from < part->meta.start) {
      return absl::OutOfRangeError("commit log: offset " + std::to_string(from.value()) +
                                   " is before the log start " +
                                   std::to_string(part->meta.start.value()));
    }
    if (from > part->meta.next) {
      return absl::OutOfRangeError("commit log: offset " + std::to_string(from.value()) +
                                   " is past the high watermark " +
                                   std::to_string(part->meta.next.value()));
    }
    if (from == part->meta.next || max_records == 0) return std::vector<StoredRecord>{};
    // Opened under the lock: its implicit snapshot holds exactly [start, next).
    r = OpenRecords(db_, p, from, part->meta.next);
  }
  std::vector<StoredRecord> out;
  uint64_t bytes = 0;
  Offset expect = from;
  for (; r->it->Valid() && out.size() < max_records; r->it->Next()) {
    const rocksdb::Slice v = r->it->value();
    if (!out.empty() && bytes + v.size() > max_bytes) break;  // always return at least one
    const Offset o = KeyOffset(std::string_view(r->it->key().data(), r->it->key().size()));
    if (o != expect) return absl::DataLossError("commit log: hole in the partition at offset " +
                                                std::to_string(expect.value()));
    ASSIGN_OR_RETURN(Record rec, DecodeRecord(std::string_view(v.data(), v.size())));
    out.push_back(StoredRecord{o, std::move(rec)});
    bytes += v.size();
    expect = o.Next();
  }
  RETURN_IF_ERROR(FromRocksDb(r->it->status()));
  if (out.empty()) return absl::DataLossError("commit log: committed records missing");
  return out;
}

absl::StatusOr<Offset> LogState::OffsetForTime(PartitionId p, int64_t timestamp_ms) const {
  const Partition* part = Find(p);
  if (!part) return NoPartition(p);
  std::unique_ptr<RecordIterator> r;
  int64_t log_time = 0;
  Offset from;
  Offset end;
  {
    std::shared_lock<std::shared_mutex> l(part->mu);
    end = part->meta.next;
    if (part->index.empty() || part->meta.max_log_time_ms < timestamp_ms) return end;
    // The last block whose first log time is before `timestamp_ms`; the answer is in it.
    auto it = std::lower_bound(part->index.begin(), part->index.end(), timestamp_ms,
                               [](const IndexEntry& e, int64_t t) { return e.log_time_ms < t; });
    if (it == part->index.begin()) return part->meta.start;
    --it;
    from = it->offset;
    log_time = it->log_time_ms;
    r = OpenRecords(db_, p, from, end);
  }
  // Log time is the running maximum of record timestamps, so it never decreases.
  for (; r->it->Valid(); r->it->Next()) {
    const rocksdb::Slice v = r->it->value();
    ASSIGN_OR_RETURN(int64_t ts, DecodeRecordTimestamp(std::string_view(v.data(), v.size())));
    log_time = std::max(log_time, ts);
    if (log_time >= timestamp_ms) {
      return KeyOffset(std::string_view(r->it->key().data(), r->it->key().size()));
    }
  }
  RETURN_IF_ERROR(FromRocksDb(r->it->status()));
  return end;
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
