// LogState: the applied state of every partition of a PartitionedLog, and the MultiRaft
// StateMachine that builds it from each partition's Raft group and from the metadata group
// (kMetadataGroup: a small key-value store, the cluster's metadata later).
//
// One write per record: a record lives in the Raft log entry that carries it (in the same
// RocksDB as this state, README.md "One database"), as a Kafka segment is both the
// replication log and the data. Applying an append writes no copy of it: only the
// partition's meta (offsets, applied index), a sparse-index entry when a block starts (which
// Raft entry holds the block's first record), and the QoS 2 entry / retained message it
// implies. Reads walk the Raft entries from the block (or a recent position) to the offset.
// Retention moves the log start; the driver then compacts the Raft log up to the first entry
// still needed (RetainedFrom), which is how records are physically deleted.
//
// Besides records, a partition's state holds its cursors, the QoS 2 packet ids stored and not
// yet released (written in the same batch as the meta: a PUBREC'd message and its dedup
// entry are durable together) and the retained message of each of its topics (same batch).
//
// Write side (driver thread only, through multiraft::StateMachine): Apply decodes a command
// (record.h) and writes its effect plus the partition's meta (including the applied Raft index)
// in ONE RocksDB write, not synced: it follows the Raft write of the same entries in the same
// write-ahead log, so it is never durable before them, and an apply lost in a crash is
// replayed from the Raft log (entries at or below the stored applied index are skipped, so
// replay is idempotent).
//
// Offsets: a per-partition counter in the applied state (`next`), not the Raft index. Raft
// indexes have holes (a new leader's empty entry, membership changes, cursor and retention
// commands), and offsets must be dense; the counter is replicated state, so every replica
// assigns the same offsets, and it is stored with every write, so it never goes backwards.
//
// Read side (any thread): Read, OffsetForTime, Info, GetCursor, ListCursors, ListPendingQos2,
// ListRetained, ScanState (the last three read RocksDB directly: one iterator, one consistent
// view; an entry is visible once its proposal completed). Each partition has
// a shared mutex: readers take it to copy bounds and to open their RocksDB iterator (which
// pins a consistent view); the driver takes it exclusively to publish a new high watermark and
// around a retention step, so a reader never sees a record it should not, nor a hole. The
// Raft log is compacted only below the log start, so what a reader may read is never
// compacted under it.
//
// Errors: reads return OutOfRange (offset before the log start or past the high watermark),
// NotFound (cursor), InvalidArgument (partition), DataLoss/Unavailable from RocksDB. Storage
// write failures in Apply crash (the driver cannot give up an applied entry).
#ifndef SLUICE_STORAGE_LOG_LOG_STATE_H_
#define SLUICE_STORAGE_LOG_LOG_STATE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "rocksdb/write_batch.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/multiraft/state_machine.h"
#include "storage/log/keys.h"
#include "storage/log/record.h"
#include "storage/log/retention.h"

namespace rocksdb {
class DB;
}

namespace sluice::storage {

// A record as it was applied (LogStateOptions::applied_listener): its partition, the offset it
// got, and the record as stored (DecodeRecord).
struct AppliedRecord {
  PartitionId partition;
  Offset offset;
  std::string record;
};
// Called on the driver thread with the records of an apply batch, in each partition's offset
// order, once Read sees them; must not block (hand them to your own thread). Every replica
// calls it for every record it applies from the Raft log, the replay of Open included (a
// caller that starts from the high watermarks skips offsets below them) -- but not for what
// a snapshot installs (Restore).
using AppliedListener = std::function<void(std::vector<AppliedRecord>)>;
// Called on the driver thread with each metadata event (PartitionedLog::ProposeEvent) as this
// replica applies it, with its Raft index (unique and growing: the cluster's order of
// events). Must not block. Events are not stored: the replay of Open hands the events after
// the last stored metadata write again, and a snapshot installs none.
using EventListener = std::function<void(LogIndex index, std::string_view body)>;

struct LogStateOptions {
  uint32_t partitions = 1;
  // Optional; copying each record costs one allocation per record, so only set it when used.
  AppliedListener applied_listener;
  EventListener event_listener;  // optional
  // A new index block starts after this many records or when the log time moved this far.
  // Retention deletes and timestamp lookups scan at this granularity.
  uint64_t index_interval_records = 1024;
  int64_t index_interval_ms = 10'000;
  RetentionLimits retention;
};

struct CursorInfo {
  std::string name;
  Offset offset;           // the next offset the consumer will read
  int64_t updated_ms = 0;  // wall clock of the last commit
  int64_t expiry_ms = 0;   // 0 = never; else dropped this long after the last commit
  bool Live(int64_t now_ms) const { return expiry_ms == 0 || updated_ms + expiry_ms > now_ms; }
};

// A QoS 2 message stored (PUBREC may have been sent) whose PUBREL was not yet applied.
struct PendingQos2 {
  PartitionId partition;
  std::string publisher;  // the client id (Record::publisher)
  uint16_t packet_id = 0;
  Offset offset;          // of the stored record
};

struct PartitionInfo {
  Offset log_start;       // first readable offset
  Offset high_watermark;  // one past the last committed record (Kafka's definition)
  uint64_t bytes = 0;     // encoded record bytes between log_start and high_watermark
  int64_t max_log_time_ms = 0;
  LogIndex applied;
  size_t cursors = 0;
  size_t index_entries = 0;
  uint64_t records_deleted = 0;              // by retention, since this process started
  uint64_t records_deleted_past_cursor = 0;  // of those, needed by a live cursor (hard limit)
};

class LogState final : public multiraft::StateMachine {
 public:
  // `db` is the database of the Raft log store (its 'G'/'g' keys hold the entries this state
  // reads records from); not owned, must outlive this object.
  LogState(rocksdb::DB* db, LogStateOptions options);
  ~LogState() override;

  // Loads every partition's meta, index and cursors. Call once, before the MultiRaft starts.
  absl::Status Load();

  static GroupId GroupOf(PartitionId p) { return GroupId(uint64_t{p.value()} + 1); }
  static PartitionId PartitionOf(GroupId g) { return PartitionId(static_cast<uint32_t>(g.value() - 1)); }
  // The metadata group. Partition groups are 1..2^32 (GroupOf); 0 is left alone because it is
  // a default-constructed GroupId's value.
  static constexpr GroupId kMetadataGroup = GroupId(uint64_t{1} << 63);

  // multiraft::StateMachine (driver thread).
  void Apply(GroupId group, LogIndex index, std::string_view data) override;
  // Appends of a batch go to the records database in one write here (one WAL record, one
  // meta update per partition) instead of one write each; other commands write at once,
  // after what is pending.
  void EndApplyBatch() override;
  std::string TakeSnapshot(GroupId group) override;
  void Restore(GroupId group, LogIndex index, std::string_view image) override;
  // The first Raft entry a partition still needs: the one holding its log start's record (or
  // past everything applied when the partition keeps no record in the Raft log). The metadata
  // group keeps only what the driver's own compaction lag keeps.
  LogIndex RetainedFrom(GroupId group) const override;

  // The offset the append applied at `index` got (driver thread, in the proposal's callback,
  // which MultiRaft runs right after applying that entry).
  Offset AppendedOffset(PartitionId p, LogIndex index) const;

  // Reads (any thread).
  absl::StatusOr<std::vector<StoredRecord>> Read(PartitionId p, Offset from, size_t max_records,
                                                 uint64_t max_bytes) const;
  absl::StatusOr<Offset> OffsetForTime(PartitionId p, int64_t timestamp_ms) const;
  absl::StatusOr<PartitionInfo> Info(PartitionId p) const;
  absl::StatusOr<CursorInfo> GetCursor(PartitionId p, std::string_view name) const;
  absl::StatusOr<std::vector<CursorInfo>> ListCursors(PartitionId p) const;
  // Every stored QoS 2 packet id of every partition, by partition, packet id, publisher.
  absl::StatusOr<std::vector<PendingQos2>> ListPendingQos2() const;
  // Every retained message (any partition), by topic, with the offset its record got.
  absl::StatusOr<std::vector<StoredRecord>> ListRetained() const;
  // The metadata group's keys starting with `prefix` and their values, by key.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanState(
      std::string_view prefix) const;
  // What a retention command applied at `now_ms` would do (leaders propose only when useful).
  absl::StatusOr<RetentionDecision> PreviewRetention(PartitionId p, int64_t now_ms,
                                                     bool* cursors_expired) const;
  std::vector<IndexEntry> IndexForTesting(PartitionId p) const;

  const LogStateOptions& options() const { return options_; }

 private:
  struct Partition;
  // A place to start walking a partition's Raft entries: the first record met from
  // `raft_index` on has offset `offset`.
  struct Position {
    Offset offset;
    LogIndex raft_index;  // 0: none
  };
  struct ReadPlan;
  Partition* Find(PartitionId p) const;
  // Reads (log_state_read.cc). PlanRead checks the bounds and opens the iterators under the
  // partition's lock. StartFor: where to walk the Raft entries from for `from` (at or after
  // imported_end): the block holding it, or a later position a previous read stopped at
  // (RememberPosition), so a consumer reading on does not rescan its block. Caller of
  // StartFor holds part.mu (shared).
  absl::Status PlanRead(const Partition& part, Offset from, ReadPlan* plan) const;
  Position StartFor(const Partition& part, Offset from) const;
  void RememberPosition(const Partition& part, Position pos) const;
  void ApplyAppend(Partition& part, LogIndex index, std::string_view record,
                   uint16_t qos2_packet_id);
  void ApplyCursor(Partition& part, LogIndex index, const Command& c);
  void ApplyRetention(Partition& part, LogIndex index, int64_t now_ms);
  void ApplyReleaseQos2(Partition& part, LogIndex index, const Command& c);
  void ApplyMetadata(LogIndex index, const Command& c);
  std::optional<Offset> MinLiveCursor(const Partition& part, int64_t now_ms) const;
  // Writes the pending appends and publishes their meta and index entries.
  void FlushPending();
  const PartitionMeta& CurrentMeta(const Partition& part) const;

  rocksdb::DB* db_;
  const LogStateOptions options_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  // The metadata group's applied index (kStateMetaKey). Driver thread only, after Load.
  LogIndex metadata_applied_;
  // Driver thread only: appends applied since the last FlushPending, and their partitions.
  rocksdb::WriteBatch pending_batch_;
  std::vector<Partition*> pending_parts_;
  std::vector<AppliedRecord> pending_applied_;  // for applied_listener, in FlushPending
  uint64_t batch_epoch_ = 1;
  // A batch this large is written at once (bounds the memory of a long Ready).
  static constexpr size_t kMaxPendingBatchBytes = 4 << 20;
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_LOG_STATE_H_
