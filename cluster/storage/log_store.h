// LogStore: the durable Raft logs of many groups, as the MultiRaft driver uses them. An
// interface so that the driver is not bound to one storage engine:
//
//   LogStore       opens groups, makes a batch, snapshots and compacts a group's log.
//   GroupStorage   one group's log: the raft::LogStorage the Raft core reads (read-only to it),
//                  plus the snapshot metadata the driver needs to decide on compaction.
//   LogBatch       the writes of one driver turn for many groups (every group's Ready), made
//                  durable together by ONE atomic Commit. A GroupStorage shows the new state
//                  only after Commit succeeded.
//
// Implementations: RocksDbLogStore (rocksdb_log_store.h; production, and the simulator on an
// in-memory rocksdb::Env). Pure interface: no RocksDB header here.
//
// Ownership: GroupStorage pointers are owned by the store and stay valid until it is
// destroyed. Thread-compatible: one owner thread (the driver) uses a store, its groups and
// batches. Errors: absl::Status; reads follow cluster/raft/storage.h (LogCompactedError,
// EntryUnavailableError, ...); SnapshotOutOfDate / LogCompacted from CreateSnapshot/Compact as
// for raft::MemoryStorage; anything else is a storage failure (the driver crashes on a failed
// write: a Raft node that cannot persist must not keep voting).
#ifndef SLUICE_CLUSTER_STORAGE_LOG_STORE_H_
#define SLUICE_CLUSTER_STORAGE_LOG_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/storage.h"
#include "cluster/raft/types.h"

namespace sluice::raftstore {

class GroupStorage : public raft::LogStorage {
 public:
  virtual GroupId group() const = 0;
  // Metadata of the latest snapshot (its image is read only by GetSnapshot).
  virtual const raft::SnapshotMetadata& snapshot_metadata() const = 0;
};

class LogBatch {
 public:
  virtual ~LogBatch() = default;
  // Adds one group's Ready: `snapshot` (if any) replaces the group's whole log, then `entries`
  // are appended (a conflicting suffix is truncated), then `hard_state` (if any) is saved.
  // `log` must come from the same store; a gap after the last index is a caller bug (crash).
  virtual void Append(GroupStorage* log, const std::optional<raft::HardState>& hard_state,
                      const std::vector<raft::Entry>& entries,
                      const std::optional<raft::Snapshot>& snapshot) = 0;
  // One atomic (synced, when the store is configured so) write of everything appended. On
  // error nothing is visible to the groups. Not reusable afterwards.
  virtual absl::Status Commit() = 0;
  virtual bool empty() const = 0;
};

class LogStore {
 public:
  virtual ~LogStore() = default;
  // Groups ever opened in this store (ascending).
  virtual absl::StatusOr<std::vector<GroupId>> ListGroups() const = 0;
  // Loads an existing group, or creates it with `bootstrap` as its membership at index 0
  // (ignored when the group exists). The pointer is owned by the store.
  virtual absl::StatusOr<GroupStorage*> OpenGroupStorage(GroupId group,
                                                         const raft::ConfState& bootstrap) = 0;
  virtual std::unique_ptr<LogBatch> NewLogBatch() = 0;
  // Saves a snapshot of the applied state at `index` (<= last index) with `conf_state`.
  // SnapshotOutOfDate if not newer than the current one.
  virtual absl::Status CreateSnapshot(GroupStorage* log, LogIndex index,
                                      const raft::ConfState& conf_state, std::string data) = 0;
  // Deletes entries up to and including `index` (not past the latest snapshot). LogCompacted
  // if already compacted.
  virtual absl::Status Compact(GroupStorage* log, LogIndex index) = 0;
};

}  // namespace sluice::raftstore

#endif  // SLUICE_CLUSTER_STORAGE_LOG_STORE_H_
