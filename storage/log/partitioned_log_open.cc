// PartitionedLog: opening -- option checks, the layout-1 migration, the partition layout,
// the driver and its groups, and what Open waits for (standalone or cluster mode).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <utility>

#include "base/check.h"
#include "base/log.h"
#include "base/status.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/local_transport.h"
#include "cluster/transport/transport.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/log/partitioned_log.h"
#include "storage/log/rocksdb_util.h"

namespace sluice::storage {
namespace {

absl::Status Validate(const PartitionedLogOptions& o) {
  if (o.dir.empty()) return absl::InvalidArgumentError("commit log: dir is empty");
  if (o.partitions == 0 || o.partitions > 65'536) {
    return absl::InvalidArgumentError("commit log: partitions must be in [1, 65536]");
  }
  if (o.index_interval_records == 0) {
    return absl::InvalidArgumentError("commit log: index_interval_records must be > 0");
  }
  if (!o.clock) return absl::InvalidArgumentError("commit log: no clock");
  if (o.sync_interval_ms < 0) {
    return absl::InvalidArgumentError("commit log: sync_interval_ms must be >= 0");
  }
  if (o.node_id == NodeId(0)) return absl::InvalidArgumentError("commit log: node_id 0");
  if (!o.members.empty()) {
    std::vector<NodeId> sorted = o.members;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return absl::InvalidArgumentError("commit log: a member listed twice");
    }
    if (!std::binary_search(sorted.begin(), sorted.end(), o.node_id)) {
      return absl::InvalidArgumentError("commit log: members must include node_id");
    }
    if (o.members.size() > 1 && o.transport == nullptr) {
      return absl::InvalidArgumentError("commit log: several members need a transport");
    }
  }
  return absl::OkStatus();
}
// Layout 1 kept the applied state and a copy of every record in dir/records. Its keys do not
// collide with the Raft log's, so migrating is copying them into the one database: the
// records become imported records ('r' keys below each partition's imported_end), read from
// there until retention deletes them. Marking the database with kLayoutVersionKey comes last
// (synced), so a crash mid-copy copies again at the next open; dir/records goes after that.
absl::Status MigrateLayout1(const PartitionedLogOptions& o, rocksdb::DB* db) {
  const std::string old_path = o.dir + "/records";
  std::error_code ec;
  // Through the database's Env when it has one (in memory for the simulator: no layout 1).
  const bool old_exists = o.env != nullptr ? o.env->FileExists(old_path).ok()
                                           : std::filesystem::exists(old_path, ec);
  std::string version;
  rocksdb::Status vs = db->Get(rocksdb::ReadOptions(), kLayoutVersionKey, &version);
  if (!vs.ok() && !vs.IsNotFound()) return FromRocksDb(vs);
  rocksdb::WriteOptions synced;
  synced.sync = true;
  std::string v2;
  PutFixed64(v2, kLayoutVersion);
  if (vs.ok()) {
    if (version != v2) {
      return absl::FailedPreconditionError("commit log: " + o.dir +
                                           " has an unknown layout version (a newer sluiced?)");
    }
    if (old_exists) std::filesystem::remove_all(old_path, ec);  // a crash after marking
    return absl::OkStatus();
  }
  if (!old_exists) return FromRocksDb(db->Put(synced, kLayoutVersionKey, v2));  // a new log
  const auto t0 = std::chrono::steady_clock::now();
  rocksdb::Options ro;
  if (o.env) ro.env = o.env;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::DB::Open(ro, old_path, &raw)));
  std::unique_ptr<rocksdb::DB> old(raw);
  std::unique_ptr<rocksdb::Iterator> it(old->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  uint64_t keys = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view k(it->key().data(), it->key().size());
    const std::string_view v(it->value().data(), it->value().size());
    if (!k.empty() && k[0] == 'm') {
      ASSIGN_OR_RETURN(PartitionMeta m, DecodeMeta(v));
      m.imported_end = m.next;  // every record so far is in an 'r' key
      batch.Put(it->key(), EncodeMeta(m));
    } else {
      batch.Put(it->key(), it->value());
    }
    ++keys;
    if (batch.GetDataSize() >= (4 << 20)) {
      RETURN_IF_ERROR(FromRocksDb(db->Write(rocksdb::WriteOptions(), &batch)));
      batch.Clear();
    }
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  it.reset();
  batch.Put(kLayoutVersionKey, v2);
  RETURN_IF_ERROR(FromRocksDb(db->Write(synced, &batch)));
  (void)old->Close();
  old.reset();
  std::filesystem::remove_all(old_path, ec);
  SLOG(kInfo).Kv("dir", o.dir).Kv("keys", keys)
          .Kv("ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0).count())
      << "commit log: migrated layout 1 (dir/records) into the one database";
  return absl::OkStatus();
}

// The layout is fixed at creation: another partition count would remap every topic.
absl::Status CheckPartitionLayout(const PartitionedLogOptions& o, rocksdb::DB* db) {
  std::string layout;
  PutFixed64(layout, o.partitions);
  PutFixed64(layout, o.partition_key_levels);
  std::string stored;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kLayoutKey, &stored);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocksDb(db->Put(wo, kLayoutKey, layout));
  }
  RETURN_IF_ERROR(FromRocksDb(s));
  if (stored != layout) {
    return absl::InvalidArgumentError(
        "commit log: " + o.dir + " was created with another partition count or key levels");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PartitionedLog>> PartitionedLog::Open(PartitionedLogOptions options) {
  RETURN_IF_ERROR(Validate(options));
  std::unique_ptr<PartitionedLog> log(new PartitionedLog(std::move(options)));
  RETURN_IF_ERROR(log->Start());
  return log;
}

absl::Status PartitionedLog::Start() {
  const PartitionedLogOptions& o = options_;
  using Steady = std::chrono::steady_clock;
  auto ms_since = [](Steady::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t).count();
  };
  const bool interval = o.sync && o.sync_interval_ms > 0;
  raftstore::RocksDbLogStoreOptions rso;
  rso.sync = o.sync && !interval;
  rso.memory_budget_bytes = o.memory_budget_bytes;
  rso.env = o.env;
  const auto t1 = Steady::now();
  ASSIGN_OR_RETURN(raft_store_, raftstore::RocksDbLogStore::Open(o.dir + "/raft", rso));
  rocksdb::DB* db = raft_store_->db();
  RETURN_IF_ERROR(MigrateLayout1(o, db));
  RETURN_IF_ERROR(CheckPartitionLayout(o, db));
  const int64_t db_open_ms = ms_since(t1);
  LogStateOptions so;
  so.partitions = o.partitions;
  so.index_interval_records = o.index_interval_records;
  so.index_interval_ms = o.index_interval_ms;
  so.retention = o.retention;
  so.applied_listener = o.applied_listener;
  so.event_listener = o.event_listener;
  state_ = std::make_unique<LogState>(db, so);
  RETURN_IF_ERROR(state_->Load());
  const auto t2 = Steady::now();
  ASSIGN_OR_RETURN(std::vector<GroupId> existing, raft_store_->ListGroups());

  const bool standalone = o.transport == nullptr;
  multiraft::MultiRaftOptions mo;
  mo.self = o.node_id;
  mo.tick_ms = o.tick_ms;
  mo.pending_proposals_max = o.pending_appends_max;
  mo.proposal_timeout_ms = o.append_timeout_ms;
  mo.snapshot_interval_entries = o.snapshot_interval_entries;
  mo.compaction_lag_entries = o.compaction_lag_entries;
  // Bounded by the pending limit anyway; let one turn carry a large batch.
  mo.max_uncommitted_entries_size = 256 << 20;
  if (o.raft_options_for_testing) o.raft_options_for_testing(&mo);
  mo.clock = o.raft_clock != nullptr ? o.raft_clock : o.clock;
  mo.seed = o.raft_seed;
  mo.own_thread = !o.external_driver;
  mo.forward_proposals = o.forward_proposals && o.transport != nullptr;
  if (standalone) {
    network_ = std::make_unique<transport::LocalNetwork>();
    local_transport_ = std::make_unique<transport::LocalTransport>(network_.get(), o.node_id);
    transport_ = local_transport_.get();
  } else {
    transport_ = o.transport;
  }
  raft_ = std::make_unique<multiraft::MultiRaft>(mo, raft_store_.get(), transport_, state_.get());
  RETURN_IF_ERROR(transport_->Start(raft_.get()));
  RETURN_IF_ERROR(raft_->Start());

  raft::ConfState members;
  members.voters = o.members.empty() ? std::vector<NodeId>{o.node_id} : o.members;
  // The metadata group first, then every partition. A log created before the metadata group
  // existed gets it here (an empty group: nothing to replay).
  std::vector<GroupId> groups{LogState::kMetadataGroup};
  for (uint32_t p = 0; p < o.partitions; ++p) groups.push_back(LogState::GroupOf(PartitionId(p)));
  for (GroupId g : groups) {
    if (std::find(existing.begin(), existing.end(), g) == existing.end()) {
      RETURN_IF_ERROR(raft_->CreateGroup(g, members));
    } else if (const std::optional<multiraft::GroupStatus> st = raft_->Status(g)) {
      // A standalone log's one-member groups would elect this node alone in a cluster (two
      // leaders for one partition), and a cluster's groups never get a quorum standalone.
      const std::vector<NodeId>& voters = st->conf_state.voters;
      const bool alone = voters.size() == 1 && voters[0] == o.node_id;
      if (standalone ? !alone : (alone && members.voters.size() > 1)) {
        return absl::InvalidArgumentError(
            standalone ? "the log in " + o.dir + " belongs to a cluster node; a standalone "
                         "broker needs a data directory of its own"
                       : "the log in " + o.dir + " was created by a standalone broker; a "
                         "cluster node needs a data directory of its own");
      }
    }
    // A one-member group elects itself at once instead of waiting an election timeout. In a
    // cluster the driver's election timeouts decide (a campaign by every replica at once would
    // only split the votes).
    if (standalone) raft_->Campaign(g);
  }
  if (o.external_driver) {
    SLOG(kInfo) << "commit log open (external driver)" << " dir=" << o.dir
                << " node=" << o.node_id << " db_open_ms=" << db_open_ms;
    return absl::OkStatus();
  }
  for (GroupId g : groups) {
    // Standalone: writable and fully replayed -- leader, and everything in the log applied
    // (including the new term's empty entry). Cluster: replayed -- applied at least what the
    // local log said was committed when the group was opened (its hard state's commit).
    std::function<bool(const multiraft::GroupStatus&)> ready;
    if (standalone) {
      ready = [](const multiraft::GroupStatus& s) {
        return s.state == raft::StateType::kLeader && s.applied == s.last_index &&
               s.commit == s.last_index;
      };
    } else {
      const std::optional<multiraft::GroupStatus> at_open = raft_->Status(g);
      const LogIndex commit = at_open ? at_open->commit : LogIndex(0);
      ready = [commit](const multiraft::GroupStatus& s) { return s.applied >= commit; };
    }
    if (!raft_->AwaitStatus(g, ready, std::chrono::milliseconds(o.open_timeout_ms))) {
      const char* what = standalone ? " did not become writable" : " did not replay its log";
      return absl::DeadlineExceededError(
          g == LogState::kMetadataGroup
              ? std::string("commit log: the metadata group") + what
              : "commit log: partition " + std::to_string(LogState::PartitionOf(g).value()) +
                    what);
    }
  }
  SLOG(kInfo) << "commit log open" << " dir=" << o.dir << " partitions=" << o.partitions
              << " node=" << o.node_id << " members=" << members.voters.size()
              << " db_open_ms=" << db_open_ms << " replay_ms=" << ms_since(t2);
  if (o.sync && o.sync_interval_ms > 0) sync_thread_ = std::thread([this] { SyncLoop(); });
  return absl::OkStatus();
}

void PartitionedLog::SyncLoop() {
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  std::unique_lock<std::mutex> lock(sync_mu_);
  while (!sync_cv_.wait_for(lock, interval, [this] { return sync_stopping_; })) {
    lock.unlock();
    absl::Status st = raft_store_->SyncWal();
    if (st.ok()) {
      interval_syncs_.fetch_add(1, std::memory_order_relaxed);
    } else {
      SLOG(kError).Kv("error", st.message()) << "commit log: periodic fsync failed";
    }
    lock.lock();
  }
}

}  // namespace sluice::storage
