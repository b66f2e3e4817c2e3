// PartitionedLog: the durable, partitioned commit log of a Sluice node (issue 4).
//
// A log has P partitions, fixed when it is created in `dir`. A topic maps to a partition by a
// stable hash (partitioner.h), so one topic keeps its order. Each partition is a Raft group of
// the node's MultiRaft driver; on a single node a one-member group, so clustering adds members
// to the same write path. Appends are Raft proposals; the driver persists the proposals of all
// partitions that arrived during one turn in ONE synced RocksDB write (group commit), applies
// them to the records database (log_state.h) and completes them.
//
//   dir/raft      the Raft log (cluster/storage RocksDbLogStore): the write-ahead, synced
//   dir/records   records, sparse index, cursors, partition meta: the applied state
//
// Completion contract: Append's callback gets the record's Offset once the record is committed
// AND durable (its Raft entry was fsynced, when `sync` is on) and readable (Read sees it). It
// runs on the driver thread and must not block; hand the result to your own thread. Errors are
// those of MultiRaft::Propose (multiraft.h): FailedPrecondition (not the leader: cannot happen
// on one node once Open returned), ResourceExhausted (`pending_appends_max`), Unavailable /
// DeadlineExceeded / Cancelled (outcome unknown: the record may or may not be in the log), plus
// InvalidArgument (no such partition, record over `record_bytes_max`) before proposing.
//
// Offsets are dense per partition, start at 0 and are never reused, across restarts and
// retention (see log_state.h for why they are a counter and not the Raft index).
//
// Thread-safety: every method is thread-safe. Destroying the object stops the driver (pending
// appends complete with Cancelled); it does no extra flush, so destroying it and killing the
// process leave the same files behind.
#ifndef SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_
#define SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/ids.h"
#include "cluster/multiraft/multiraft.h"
#include "storage/log/log_state.h"
#include "storage/log/partitioner.h"
#include "storage/log/record.h"
#include "storage/log/retention.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace sluice::raftstore {
class RocksDbLogStore;
}
namespace sluice::transport {
class LocalNetwork;
class LocalTransport;
}  // namespace sluice::transport

namespace sluice::storage {

struct PartitionedLogOptions {
  std::string dir;
  // Fixed at creation; reopening with other values is InvalidArgument.
  uint32_t partitions = 16;
  uint32_t partition_key_levels = 0;  // 0 = whole topic
  // fsync policy: true = every group-commit batch is fsynced before any of its appends
  // completes. false = never fsync (the OS writes back when it likes): a kill -9 loses nothing,
  // a power loss or kernel crash loses acknowledged records. No interval mode yet (README).
  bool sync = true;
  RetentionLimits retention{7LL * 24 * 3600 * 1000, 0, 0, 0};
  uint64_t index_interval_records = 1024;
  int64_t index_interval_ms = 10'000;
  // Limits.
  uint64_t record_bytes_max = 4 << 20;          // encoded record
  uint64_t pending_appends_max = 100'000;       // appends + cursor commits waiting, all partitions
  uint64_t cursor_name_bytes_max = 1024;
  int64_t append_timeout_ms = 10'000;
  int64_t open_timeout_ms = 60'000;             // until every partition has replayed its log
  // Raft driver.
  int64_t tick_ms = 100;
  // Per partition: the records DB is synced and the Raft log compacted then. Bounds what a
  // restart replays from the Raft log (~2.5 us per entry) against one extra fsync per interval.
  uint64_t snapshot_interval_entries = 10'000;
  uint64_t compaction_lag_entries = 1'000;
  // RocksDB.
  uint64_t records_write_buffer_bytes = 64 << 20;
  uint64_t raft_write_buffer_bytes = 32 << 20;
  uint64_t block_cache_bytes = 64 << 20;
  rocksdb::Env* records_env = nullptr;  // tests: a fault-injecting Env for dir/records
  const Clock* clock = SystemClock::Get();  // not owned
};

struct LogStats {
  uint64_t appends = 0;          // completed OK
  uint64_t appends_failed = 0;
  uint64_t raft_writes = 0;      // synced RocksDB batches of the Raft log (group commits)
  uint64_t raft_readies = 0;
  uint64_t retention_proposals = 0;
};

class PartitionedLog {
 public:
  using AppendCallback = std::function<void(absl::StatusOr<Offset>)>;
  using DoneCallback = std::function<void(absl::Status)>;

  // Opens or creates the log in `options.dir`, replays what the records database misses from
  // the Raft log, and returns when every partition is writable. Errors: InvalidArgument (bad
  // options, or a different partition layout on disk), storage errors, DeadlineExceeded.
  static absl::StatusOr<std::unique_ptr<PartitionedLog>> Open(PartitionedLogOptions options);
  ~PartitionedLog();

  PartitionId PartitionFor(std::string_view topic) const { return partitioner_.For(topic); }
  uint32_t partitions() const { return partitioner_.partitions(); }

  // Appends `record` (timestamp 0 = now) to `partition`; see the completion contract above.
  void Append(PartitionId partition, const Record& record, AppendCallback done);
  std::future<absl::StatusOr<Offset>> Append(PartitionId partition, const Record& record);

  // Up to `max_records` records from `from` on, stopping before `max_bytes` of encoded records
  // (at least one record when any is there). Empty at the high watermark. OutOfRange before
  // the log start or past the high watermark.
  absl::StatusOr<std::vector<StoredRecord>> Read(PartitionId partition, Offset from,
                                                 size_t max_records,
                                                 uint64_t max_bytes = UINT64_MAX) const {
    return state_->Read(partition, from, max_records, max_bytes);
  }
  // The first offset whose log time (the running maximum of record timestamps) is at or after
  // `timestamp_ms`: the log start if all are, the high watermark if none is (Kafka ListOffsets).
  absl::StatusOr<Offset> OffsetForTime(PartitionId partition, int64_t timestamp_ms) const {
    return state_->OffsetForTime(partition, timestamp_ms);
  }
  absl::StatusOr<PartitionInfo> Info(PartitionId partition) const { return state_->Info(partition); }

  // Durable named cursors per (consumer, partition): `offset` is the next offset the consumer
  // will read (<= high watermark, else OutOfRange). Committed through the partition's Raft
  // group (so replicas agree and retention sees them); done when durable. `expiry_ms` > 0: the
  // cursor stops holding back retention that long after its last commit, and retention then
  // removes it (maps to the MQTT session expiry).
  void CommitCursor(PartitionId partition, std::string name, Offset offset, int64_t expiry_ms,
                    DoneCallback done);
  absl::Status CommitCursor(PartitionId partition, std::string name, Offset offset,
                            int64_t expiry_ms = 0);
  absl::Status DeleteCursor(PartitionId partition, std::string name);
  absl::StatusOr<CursorInfo> GetCursor(PartitionId partition, std::string_view name) const {
    return state_->GetCursor(partition, name);
  }
  absl::StatusOr<std::vector<CursorInfo>> ListCursors(PartitionId partition) const {
    return state_->ListCursors(partition);
  }

  // Applies the retention limits now (the caller runs this periodically, e.g. every minute):
  // proposes a retention command to each partition that has something to delete or a cursor
  // to expire, and waits until they are applied. Returns how many partitions changed.
  absl::StatusOr<int> EnforceRetention();

  LogStats stats() const;
  multiraft::MultiRaftStats raft_stats() const;
  const PartitionedLogOptions& options() const { return options_; }
  // For tests: the sparse index of a partition.
  std::vector<IndexEntry> IndexForTesting(PartitionId p) const { return state_->IndexForTesting(p); }

 private:
  explicit PartitionedLog(PartitionedLogOptions options);
  absl::Status Start();
  void Propose(PartitionId partition, std::string command,
               std::function<void(absl::StatusOr<LogIndex>)> done);

  const PartitionedLogOptions options_;
  const Partitioner partitioner_;
  std::unique_ptr<rocksdb::DB> records_;
  std::unique_ptr<LogState> state_;
  std::unique_ptr<raftstore::RocksDbLogStore> raft_store_;
  std::unique_ptr<transport::LocalNetwork> network_;
  std::unique_ptr<transport::LocalTransport> transport_;
  std::unique_ptr<multiraft::MultiRaft> raft_;
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> appends_failed_{0};
  std::atomic<uint64_t> retention_proposals_{0};
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_
