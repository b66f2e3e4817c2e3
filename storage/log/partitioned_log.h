// PartitionedLog: the durable, partitioned commit log of a Sluice node (issue 4).
//
// A log has P partitions, fixed when it is created in `dir`. A topic maps to a partition by a
// stable hash (partitioner.h), so one topic keeps its order. Each partition is a Raft group of
// the node's MultiRaft driver; on a single node a one-member group, so clustering adds members
// to the same write path. Appends are Raft proposals; the driver persists the proposals of all
// partitions that arrived during one turn in ONE synced RocksDB write (group commit), applies
// them to the records database (log_state.h) and completes them.
//
//   dir/raft      the Raft log (cluster/storage RocksDbLogStore), whose entries hold the
//                 records, and the applied state: sparse index, cursors, QoS 2 packet ids,
//                 retained messages, partition meta, the metadata key-value state
//
// Besides the partitions, the same driver runs one more Raft group, the metadata group
// (LogState::kMetadataGroup): a small durable key-value store (PutState/ScanState), created on
// the first open of a log that predates it.
//
// One database (dir/raft, README.md "One database"): the Raft log of every group, and beside
// it the applied state (log_state.h). A record is written once, in the Raft entry that
// replicates it, and read from there; a log created by layout 1 (dir/records beside dir/raft)
// is migrated at its first open.
//
// Standalone and cluster mode (README.md "Cluster mode"). Without a `transport` (the default,
// the broker today) the log is standalone: node `node_id` (1), an in-process transport of its
// own, one-member groups; Open campaigns in every group and returns once this node leads every
// group and has applied its whole log, so every partition is writable. With a `transport` the
// log is one replica of a cluster: the groups it creates have `members` as voters, and Open
// does not wait for any leader -- it returns once every group is open and has applied what its
// own log says is committed (the replay), so reads, ListPendingQos2 and ListRetained see
// everything this replica had applied before. Leaders are elected by the driver (an election
// timeout after the peers are reachable); RaftStatus/AwaitRaftStatus tell who leads.
//
// Completion contract: Append's callback gets the record's Offset once the record is committed
// AND durable (its Raft entry was fsynced, when `sync` is on) and readable (Read sees it). It
// runs on the driver thread and must not block; hand the result to your own thread. Errors are
// those of MultiRaft::Propose (multiraft.h): FailedPrecondition (this node does not lead the
// partition's group -- proposals are not forwarded, append on the leader instead; standalone
// this cannot happen once Open returned), ResourceExhausted (`pending_appends_max`),
// Unavailable / DeadlineExceeded / Cancelled (outcome unknown: the record may or may not be in
// the log), plus InvalidArgument (no such partition, record over `record_bytes_max`) before
// proposing. Cursor commits, QoS 2 releases and metadata writes fail the same way.
//
// Offsets are dense per partition, start at 0 and are never reused, across restarts and
// retention (see log_state.h for why they are a counter and not the Raft index). Every replica
// assigns the same offsets (they are applied state); a replica's high watermark is what it
// has applied, so a follower's lags the leader's.
//
// Thread-safety: every method is thread-safe, except with `external_driver` (see there).
// Destroying the object stops the transport and the driver (pending appends complete with
// Cancelled); it does no extra flush, so destroying it and killing the process leave the same
// files behind.
#ifndef SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_
#define SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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
class Transport;
}  // namespace sluice::transport

namespace sluice::storage {

struct PartitionedLogOptions {
  std::string dir;
  // Fixed at creation; reopening with other values is InvalidArgument.
  uint32_t partitions = 16;
  uint32_t partition_key_levels = 0;  // 0 = whole topic
  // fsync policy: true = every group-commit batch is fsynced before any of its appends
  // completes. false = never fsync (the OS writes back when it likes): a kill -9 loses nothing,
  // a power loss or kernel crash loses acknowledged records.
  bool sync = true;
  // With sync = true and sync_interval_ms > 0: appends complete without waiting for an fsync,
  // and the Raft log is fsynced every sync_interval_ms instead (Kafka's flush.ms). A kill -9
  // loses nothing; a power loss or kernel crash loses up to that interval of acknowledged
  // records. Less fsync work under load, lower latency at low rates.
  int64_t sync_interval_ms = 0;
  RetentionLimits retention{7LL * 24 * 3600 * 1000, 0, 0, 0};
  uint64_t index_interval_records = 1024;
  int64_t index_interval_ms = 10'000;
  // Limits.
  uint64_t record_bytes_max = 4 << 20;          // encoded record
  uint64_t pending_appends_max = 100'000;       // appends + cursor commits waiting, all partitions
  uint64_t cursor_name_bytes_max = 1024;
  uint64_t state_key_bytes_max = 4 << 10;  // metadata keys; values: record_bytes_max
  int64_t append_timeout_ms = 10'000;
  int64_t open_timeout_ms = 60'000;             // until every partition has replayed its log
  // Raft driver.
  int64_t tick_ms = 100;
  // Per partition: the records DB is synced and the Raft log compacted then. Bounds what a
  // restart replays from the Raft log (~2.5 us per entry) against one extra fsync per interval.
  uint64_t snapshot_interval_entries = 10'000;
  uint64_t compaction_lag_entries = 1'000;
  // RocksDB: all its memory (cache, index and filter blocks, memtables) within this budget
  // (RocksDbLogStoreOptions::memory_budget_bytes; README.md "Memory budget").
  uint64_t memory_budget_bytes = 16 << 20;
  // Tests: a fault-injecting Env for the database, or an in-memory one (the simulator).
  rocksdb::Env* env = nullptr;
  // Wall time of records, cursor commits and retention; not owned.
  const Clock* clock = SystemClock::Get();

  // ---- Cluster (optional; README.md "Cluster mode"). The defaults are the standalone log.
  // This node's id in every group.
  NodeId node_id{1};
  // Not owned; must outlive the log. nullptr: standalone (an in-process transport of its own).
  // Set: Open starts it with the log's driver as its handler, and the destructor stops it (a
  // transport serves one log); the caller adds the peers (Transport::AddPeer).
  transport::Transport* transport = nullptr;
  // Voters of every group this open creates (groups already in `dir` keep their membership).
  // Empty: {node_id}. Must contain node_id; more than one member needs a `transport`.
  std::vector<NodeId> members;
  // Monotonic time of the Raft driver (ticks, the deadlines of appends, cursor commits, ...).
  // nullptr: `clock`. Not owned.
  const Clock* raft_clock = nullptr;
  // Seed of the driver's proposal incarnation and election timeouts (MultiRaftOptions::seed):
  // 0 = random per open; the simulator passes one per open from its own seed.
  uint64_t raft_seed = 0;
  // Testing (the simulator): no driver thread; the owner calls RunOnce() for each turn, and
  // Open does not wait at all (it cannot: nothing would run the driver). Every method must
  // then be called from the owner's thread, and the blocking variants (the synchronous
  // CommitCursor/ReleaseQos2/PutState/DeleteState, DeleteCursor, EnforceRetention) must not
  // be used: they would wait for a turn that never comes.
  bool external_driver = false;
  // Cluster mode: appends and commands made on a replica that does not lead the group are
  // forwarded to its leader (MultiRaftOptions::forward_proposals) instead of refused, and
  // complete here once this replica applied them. A proposal made while no leader is known
  // waits on the driver (bounded by pending_appends_max, behind any earlier one of the same
  // group, so order is kept) and goes as soon as a leader is known; at append_timeout_ms it
  // fails FailedPrecondition (never proposed). A leader change while a forwarded proposal is
  // in flight fails it with Unavailable (outcome unknown), unless it went to the new leader.
  bool forward_proposals = false;
  // Optional: every applied record, on the driver thread (log_state.h AppliedListener). In
  // cluster mode this is how a replica learns what other nodes appended.
  AppliedListener applied_listener;
  // Optional: every metadata event applied here (log_state.h EventListener), on the driver.
  EventListener event_listener;
  // Testing: adjusts the driver's options after the log set them (election ticks, pre-vote,
  // check-quorum per simulator seed). Must not change `self`, `clock`, `seed`, `own_thread`.
  std::function<void(multiraft::MultiRaftOptions*)> raft_options_for_testing;
};

struct LogStats {
  uint64_t appends = 0;          // completed OK
  uint64_t appends_failed = 0;
  uint64_t raft_writes = 0;      // synced RocksDB batches of the Raft log (group commits)
  uint64_t raft_readies = 0;
  uint64_t retention_proposals = 0;
  uint64_t interval_syncs = 0;   // fsyncs of the sync_interval_ms thread
  uint64_t proposals_parked = 0;     // forward_proposals: waited for a leader (total)
  uint64_t proposals_parked_now = 0; // ... waiting now
};

class PartitionedLog {
 public:
  using AppendCallback = std::function<void(absl::StatusOr<Offset>)>;
  using DoneCallback = std::function<void(absl::Status)>;

  // Opens or creates the log in `options.dir` and replays what the applied state misses from
  // the Raft log. Standalone: returns when every partition is writable (this node leads every
  // group and has applied its whole log). With a transport: returns when every group is open
  // and has applied what its local log says is committed, without waiting for a leader.
  // With external_driver: returns at once after opening the groups. Errors: InvalidArgument
  // (bad options, or a different partition layout on disk), storage errors, DeadlineExceeded
  // (`open_timeout_ms`).
  static absl::StatusOr<std::unique_ptr<PartitionedLog>> Open(PartitionedLogOptions options);
  ~PartitionedLog();

  PartitionId PartitionFor(std::string_view topic) const { return partitioner_.For(topic); }
  uint32_t partitions() const { return partitioner_.partitions(); }
  const Partitioner& partitioner() const { return partitioner_; }

  // Appends `record` (timestamp 0 = now) to `partition`; see the completion contract above.
  void Append(PartitionId partition, const Record& record, AppendCallback done);
  std::future<absl::StatusOr<Offset>> Append(PartitionId partition, const Record& record);
  // The same, and with `qos2_packet_id` != 0 also stores the QoS 2 dedup entry
  // (partition, record.publisher, qos2_packet_id) -> offset in the SAME atomic write as the
  // record: after any crash the record and its entry are there together or not at all (both
  // after an OK `done`; either way after an outcome-unknown error). An entry for the same
  // (publisher, packet id) is overwritten. 0 = no entry (the overloads above).
  void Append(PartitionId partition, const Record& record, uint16_t qos2_packet_id,
              AppendCallback done);

  // Removes the QoS 2 entry of (publisher, packet_id) in `partition` (on PUBREL), through the
  // partition's Raft group; a no-op if there is none. `done` fires once durable and applied
  // (then ListPendingQos2 no longer has it), on the driver thread; errors as CommitCursor's,
  // InvalidArgument for a bad partition, packet id 0 or a publisher over 65535 bytes. The
  // synchronous variant must not be called on the driver thread (from a callback).
  void ReleaseQos2(PartitionId partition, std::string publisher, uint16_t packet_id,
                   DoneCallback done);
  absl::Status ReleaseQos2(PartitionId partition, std::string publisher, uint16_t packet_id);
  // Every stored, unreleased QoS 2 entry of every partition (by partition, packet id,
  // publisher). Retention never deletes entries, so an entry's offset may be below the log
  // start (its record gone: Read says OutOfRange). Any thread; complete once Open returned
  // (every partition has replayed its log). Errors: DataLoss/Unavailable from RocksDB (the
  // broker then refuses to start rather than run without this state).
  absl::StatusOr<std::vector<PendingQos2>> ListPendingQos2() const;
  // Every retained message with the offset its record got, by topic. An append with
  // `retain` set and a non-empty payload sets (replaces) its topic's retained message; with an
  // empty payload it clears it (MQTT), in the record's write. Retention never deletes them: a
  // retained message outlives its record. The order of set/clear is the partition's, so a
  // topic's records must all go to PartitionFor(topic). Any thread; errors as above.
  absl::StatusOr<std::vector<StoredRecord>> ListRetained() const;

  // The metadata key-value store, a Raft group of its own (the cluster's metadata later).
  // `done` fires once the change is durable (group-committed with the partitions' writes of
  // the same driver turn) and applied (ScanState sees it), on the driver thread. Errors:
  // InvalidArgument (empty key, key over `state_key_bytes_max`, value over
  // `record_bytes_max`), else those of MultiRaft::Propose as for appends. Deleting a missing
  // key is OK. The synchronous variants must not be called on the driver thread.
  void PutState(std::string key, std::string value, DoneCallback done);
  void DeleteState(std::string key, DoneCallback done);
  // A metadata event: ordered with the metadata writes, handed to every replica's
  // `event_listener` with its Raft index as it applies it, and not stored. `done` gets that
  // index once this replica applied it (the listener ran first), on the driver thread.
  // Errors: InvalidArgument (over `record_bytes_max`), else those of MultiRaft::Propose.
  void ProposeEvent(std::string body, std::function<void(absl::StatusOr<LogIndex>)> done);
  absl::Status PutState(std::string key, std::string value);
  absl::Status DeleteState(std::string key);
  // The applied keys starting with `prefix` ("" = all) and their values, by key (byte order).
  // Any thread. Errors: DataLoss/Unavailable from RocksDB.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanState(
      std::string_view prefix) const {
    return state_->ScanState(prefix);
  }

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
  // The Raft state of `partition`'s group as last published by the driver (term, leader,
  // commit index, leader changes); nullopt for an unknown partition. Any thread.
  std::optional<multiraft::GroupStatus> RaftStatus(PartitionId partition) const;
  // The same for the metadata group.
  std::optional<multiraft::GroupStatus> MetadataRaftStatus() const;
  // Waits until `pred` holds for the status of `partition`'s group (e.g. a leader is known);
  // false after `timeout` or for an unknown partition. Not with external_driver.
  bool AwaitRaftStatus(PartitionId partition,
                       const std::function<bool(const multiraft::GroupStatus&)>& pred,
                       std::chrono::milliseconds timeout) const;
  // This node's id in the partitions' Raft groups.
  NodeId node_id() const;
  // external_driver only: one turn of the driver (MultiRaft::RunOnce); true if it had work.
  // Callbacks of appends and commands run inside it.
  bool RunOnce();
  const PartitionedLogOptions& options() const { return options_; }
  // For tests: the sparse index of a partition.
  std::vector<IndexEntry> IndexForTesting(PartitionId p) const { return state_->IndexForTesting(p); }

 private:
  explicit PartitionedLog(PartitionedLogOptions options);
  absl::Status Start();
  using ProposeCallback = std::function<void(absl::StatusOr<LogIndex>)>;
  void Propose(PartitionId partition, std::string command, ProposeCallback done);
  // Every proposal goes through here, to the driver (which, with forward_proposals, forwards
  // it to the leader or holds it until one is known).
  void ProposeGroup(GroupId group, std::string command, ProposeCallback done);
  void ProposeState(std::string command, DoneCallback done);
  void AppendAckingEarly(PartitionId partition, std::string command, const AppendCallback& done);

  const PartitionedLogOptions options_;
  const Partitioner partitioner_;
  std::unique_ptr<raftstore::RocksDbLogStore> raft_store_;  // owns the database
  std::unique_ptr<LogState> state_;
  // sync_interval_ms > 0: fsyncs the Raft log on that schedule.
  void SyncLoop();
  std::thread sync_thread_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_stopping_ = false;
  std::atomic<uint64_t> interval_syncs_{0};
  // Standalone: the in-process network and transport of this log alone.
  std::unique_ptr<transport::LocalNetwork> network_;
  std::unique_ptr<transport::LocalTransport> local_transport_;
  transport::Transport* transport_ = nullptr;  // local_transport_ or options_.transport
  // SLUICE_PLANTED_BUGS builds only (kAckBeforeApply): appends proposed and not completed.
  std::mutex planted_mu_;
  std::map<uint32_t, uint64_t> planted_in_flight_;
  std::unique_ptr<multiraft::MultiRaft> raft_;
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> appends_failed_{0};
  std::atomic<uint64_t> retention_proposals_{0};
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_PARTITIONED_LOG_H_
