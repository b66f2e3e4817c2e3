// RocksDB-backed Raft logs for many groups in one database: the production LogStore
// (log_store.h, the interface the MultiRaft driver uses).
//
//   RocksDbLogStore   owns the rocksdb::DB and one GroupLog per open group.
//   GroupLog          the raft::LogStorage of one group (read-only to the Raft core); it caches
//                     the group's hard state, truncation point and last index in memory, so that
//                     FirstIndex/LastIndex/InitialState never touch the disk.
//   LogWriteBatch     collects the writes of one Ready for many groups (Append) and makes them
//                     durable in one atomic, synced RocksDB write (Commit). The GroupLogs see the
//                     new state only after Commit succeeds.
//
// Recovery: OpenGroup reads three point keys and does one SeekForPrev for the last index; no
// scan of the log. Keys are described in keys.h.
//
// Errors: rocksdb::Status becomes absl::Status here (IOError -> Unavailable/Internal, Corruption
// -> DataLoss, ...); read errors of the LogStorage interface follow cluster/raft/storage.h.
// Thread-compatible: one owner thread (the MultiRaft driver) uses the store, its GroupLogs and
// batches; GroupLog pointers stay valid until the store is destroyed.
#ifndef SLUICE_CLUSTER_STORAGE_ROCKSDB_LOG_STORE_H_
#define SLUICE_CLUSTER_STORAGE_ROCKSDB_LOG_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/storage.h"
#include "cluster/raft/types.h"
#include "cluster/storage/keys.h"
#include "cluster/storage/log_store.h"

namespace rocksdb {
class DB;
class Env;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace sluice::raftstore {

absl::Status FromRocksDb(const rocksdb::Status& s);

struct RocksDbLogStoreOptions {
  // Every Commit is fsynced (required for Raft safety; off only for throwaway benchmarks).
  bool sync = true;
  // RocksDB's memory, all of it (README.md "Memory budget"): one LRU cache of this size holds
  // the data blocks, the index and filter blocks of every table, and — charged to it through a
  // WriteBufferManager — the memtables, which may use up to half of it. 0: the separate
  // settings below instead (block_cache_bytes, write_buffer_bytes, nothing charged).
  uint64_t memory_budget_bytes = 0;
  uint64_t block_cache_bytes = 64 << 20;
  uint64_t write_buffer_bytes = 32 << 20;
  // Tests: a fault-injecting Env (e.g. dropping unsynced writes), or an in-memory one
  // (rocksdb::NewMemEnv: the simulator); not owned. The database directory and its parents are
  // created through it.
  rocksdb::Env* env = nullptr;
  // A conflicting suffix longer than this is removed with one range tombstone instead of point
  // deletes (tombstones are cheap to write but slow down later reads over the range).
  uint64_t truncate_point_deletes_max = 1024;
};

class RocksDbLogStore;

class GroupLog final : public GroupStorage {
 public:
  absl::StatusOr<raft::PersistedState> InitialState() const override;
  absl::StatusOr<std::vector<raft::Entry>> Entries(LogIndex lo, LogIndex hi,
                                                   uint64_t max_bytes) const override;
  absl::StatusOr<sluice::Term> TermAt(LogIndex i) const override;
  absl::StatusOr<LogIndex> FirstIndex() const override;
  absl::StatusOr<LogIndex> LastIndex() const override;
  absl::StatusOr<raft::Snapshot> GetSnapshot() const override;

  GroupId group() const override { return group_; }
  const raft::HardState& hard_state() const { return state_.hard_state; }
  // Metadata of the latest snapshot (its image is read only by GetSnapshot).
  const raft::SnapshotMetadata& snapshot_metadata() const override { return state_.snapshot; }

 private:
  friend class RocksDbLogStore;
  friend class LogWriteBatch;
  // What is cached in memory; a batch works on a copy and installs it on Commit.
  struct State {
    raft::HardState hard_state;
    raft::SnapshotMetadata snapshot;
    Truncated truncated;
    LogIndex last;
  };
  GroupLog(RocksDbLogStore* store, GroupId group, State state)
      : store_(store), group_(group), state_(std::move(state)) {}

  RocksDbLogStore* store_;  // not owned
  GroupId group_;
  State state_;
};

// Writes of many groups, made durable together. Not reusable after Commit.
class LogWriteBatch final : public LogBatch {
 public:
  ~LogWriteBatch() override;
  LogWriteBatch(LogWriteBatch&&) noexcept;
  LogWriteBatch& operator=(LogWriteBatch&&) = delete;

  // Adds one group's Ready: `snapshot` (if any) replaces the group's whole log, then `entries`
  // are appended (a conflicting suffix is truncated), then `hard_state` (if any) is saved.
  // The group must be open in this store (a GroupLog of it); a gap after the last index is a
  // caller bug and crashes.
  void Append(GroupStorage* log, const std::optional<raft::HardState>& hard_state,
              const std::vector<raft::Entry>& entries,
              const std::optional<raft::Snapshot>& snapshot = std::nullopt) override;
  // One atomic write (synced if the store says so). On error nothing is visible to the
  // GroupLogs (what reached the disk is unknown only if the process dies; RocksDB's write is
  // atomic).
  absl::Status Commit() override;

  bool empty() const override { return pending_.empty(); }
  uint64_t bytes() const;
  size_t groups() const { return pending_.size(); }

 private:
  friend class RocksDbLogStore;
  explicit LogWriteBatch(RocksDbLogStore* store);

  RocksDbLogStore* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  std::map<GroupLog*, GroupLog::State> pending_;
  bool committed_ = false;
};

class RocksDbLogStore final : public LogStore {
 public:
  // Opens (creating it and its parent directories if missing) the database in directory `path`.
  static absl::StatusOr<std::unique_ptr<RocksDbLogStore>> Open(const std::string& path,
                                                               RocksDbLogStoreOptions options = {});
  ~RocksDbLogStore() override;

  // Groups ever opened in this database (ascending).
  absl::StatusOr<std::vector<GroupId>> ListGroups() const override;
  // Loads an existing group, or creates it with `bootstrap` as its membership at index 0 (a new
  // group; `bootstrap` is ignored when the group exists). The pointer is owned by the store.
  absl::StatusOr<GroupLog*> OpenGroup(GroupId group, const raft::ConfState& bootstrap);
  absl::StatusOr<GroupStorage*> OpenGroupStorage(GroupId group,
                                                 const raft::ConfState& bootstrap) override;
  bool Exists(GroupId group) const;
  // An open group, or nullptr.
  GroupLog* Find(GroupId group) const;

  LogWriteBatch NewBatch() { return LogWriteBatch(this); }
  std::unique_ptr<LogBatch> NewLogBatch() override;

  // Saves a snapshot of the applied state at `index` (<= LastIndex; its term is read from the
  // log) with membership `conf_state`. SnapshotOutOfDate if not newer than the current one.
  // `log` must be a group of this store (crash otherwise), as for Compact.
  absl::Status CreateSnapshot(GroupStorage* log, LogIndex index,
                              const raft::ConfState& conf_state, std::string data) override;
  // Deletes entries up to and including `index`, which must not be past the latest snapshot.
  // Compacted if already compacted.
  absl::Status Compact(GroupStorage* log, LogIndex index) override;

  const RocksDbLogStoreOptions& options() const { return options_; }
  // The database, for a state machine that keeps its applied state beside the log (keys not
  // starting with 'G' or 'g', see keys.h) and reads entries from any thread (keys.h's
  // EntryKey/DecodeEntryView; entries up to the applied index are stable). Writes to it come
  // after the Raft writes of what they apply, in the same write-ahead log.
  rocksdb::DB* db() const { return db_.get(); }
  uint64_t commits() const { return commits_; }
  // Makes every write so far durable (fsync of the write-ahead log): for stores opened with
  // sync = false that sync on their own schedule. Thread-safe with concurrent writes.
  absl::Status SyncWal();
  // Test support: writes to directory `dir` (which must not exist) what a process crash
  // (kill -9) at this instant would leave on disk: the database files as they are, with the
  // writes not yet flushed from the memtable only in the write-ahead log (a RocksDB checkpoint
  // without the usual flush). Opening `dir` recovers them from the log, as after a crash.
  absl::Status CrashImageForTesting(const std::string& dir);

 private:
  friend class GroupLog;
  friend class LogWriteBatch;
  RocksDbLogStore(std::unique_ptr<rocksdb::DB> db, RocksDbLogStoreOptions options);
  absl::StatusOr<GroupLog::State> LoadGroup(GroupId group) const;
  // `log` as this store's GroupLog; crashes for a group of another store.
  GroupLog* Own(GroupStorage* log) const;
  absl::Status Write(rocksdb::WriteBatch* batch);

  std::unique_ptr<rocksdb::DB> db_;
  RocksDbLogStoreOptions options_;
  std::map<GroupId, std::unique_ptr<GroupLog>> groups_;
  uint64_t commits_ = 0;
};

}  // namespace sluice::raftstore

#endif  // SLUICE_CLUSTER_STORAGE_ROCKSDB_LOG_STORE_H_
