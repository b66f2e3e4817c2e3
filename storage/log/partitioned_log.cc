#include "storage/log/partitioned_log.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <utility>

#include "base/check.h"
#include "base/log.h"
#include "base/status.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/local_transport.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "storage/log/rocksdb_util.h"

namespace sluice::storage {
namespace {

constexpr NodeId kSelf(1);

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
  return absl::OkStatus();
}

// Runs `start` with a callback and waits for it. The promise is shared with the callback:
// the driver thread may still be inside set_value when the waiter returns.
absl::Status Wait(const std::function<void(PartitionedLog::DoneCallback)>& start) {
  auto p = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = p->get_future();
  start([p](absl::Status s) { p->set_value(std::move(s)); });
  return f.get();
}

// Layout 1 kept the applied state and a copy of every record in dir/records. Its keys do not
// collide with the Raft log's, so migrating is copying them into the one database: the
// records become imported records ('r' keys below each partition's imported_end), read from
// there until retention deletes them. Marking the database with kLayoutVersionKey comes last
// (synced), so a crash mid-copy copies again at the next open; dir/records goes after that.
absl::Status MigrateLayout1(const PartitionedLogOptions& o, rocksdb::DB* db) {
  const std::string old_path = o.dir + "/records";
  std::error_code ec;
  const bool old_exists = std::filesystem::exists(old_path, ec);
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

PartitionedLog::PartitionedLog(PartitionedLogOptions options)
    : options_(std::move(options)),
      partitioner_(options_.partitions, options_.partition_key_levels) {}

PartitionedLog::~PartitionedLog() {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (transport_) transport_->Stop();
  if (raft_) raft_->Stop();
  raft_.reset();
  transport_.reset();
  state_.reset();
  raft_store_.reset();
}

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
  state_ = std::make_unique<LogState>(db, so);
  RETURN_IF_ERROR(state_->Load());
  const auto t2 = Steady::now();
  ASSIGN_OR_RETURN(std::vector<GroupId> existing, raft_store_->ListGroups());

  multiraft::MultiRaftOptions mo;
  mo.self = kSelf;
  mo.tick_ms = o.tick_ms;
  mo.pending_proposals_max = o.pending_appends_max;
  mo.proposal_timeout_ms = o.append_timeout_ms;
  mo.snapshot_interval_entries = o.snapshot_interval_entries;
  mo.compaction_lag_entries = o.compaction_lag_entries;
  // Bounded by the pending limit anyway; let one turn carry a large batch.
  mo.max_uncommitted_entries_size = 256 << 20;
  network_ = std::make_unique<transport::LocalNetwork>();
  transport_ = std::make_unique<transport::LocalTransport>(network_.get(), kSelf);
  raft_ = std::make_unique<multiraft::MultiRaft>(mo, raft_store_.get(), transport_.get(),
                                                 state_.get());
  RETURN_IF_ERROR(transport_->Start(raft_.get()));
  RETURN_IF_ERROR(raft_->Start());

  raft::ConfState members;
  members.voters.push_back(kSelf);
  // The metadata group first, then every partition. A log created before the metadata group
  // existed gets it here (an empty group: nothing to replay).
  std::vector<GroupId> groups{LogState::kMetadataGroup};
  for (uint32_t p = 0; p < o.partitions; ++p) groups.push_back(LogState::GroupOf(PartitionId(p)));
  for (GroupId g : groups) {
    if (std::find(existing.begin(), existing.end(), g) == existing.end()) {
      RETURN_IF_ERROR(raft_->CreateGroup(g, members));
    }
    // A one-member group elects itself at once instead of waiting an election timeout.
    raft_->Campaign(g);
  }
  // Writable and fully replayed: leader, and everything in the log applied (including the
  // new term's empty entry).
  for (GroupId g : groups) {
    const bool ready = raft_->AwaitStatus(
        g,
        [](const multiraft::GroupStatus& s) {
          return s.state == raft::StateType::kLeader && s.applied == s.last_index &&
                 s.commit == s.last_index;
        },
        std::chrono::milliseconds(o.open_timeout_ms));
    if (!ready) {
      return absl::DeadlineExceededError(
          g == LogState::kMetadataGroup
              ? std::string("commit log: the metadata group did not become writable")
              : "commit log: partition " +
                    std::to_string(LogState::PartitionOf(g).value()) + " did not become writable");
    }
  }
  SLOG(kInfo) << "commit log open" << " dir=" << o.dir << " partitions=" << o.partitions
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

void PartitionedLog::Propose(PartitionId partition, std::string command,
                             std::function<void(absl::StatusOr<LogIndex>)> done) {
  raft_->Propose(LogState::GroupOf(partition), std::move(command), std::move(done));
}

void PartitionedLog::Append(PartitionId partition, const Record& record, AppendCallback done) {
  Append(partition, record, 0, std::move(done));
}

void PartitionedLog::Append(PartitionId partition, const Record& record, uint16_t qos2_packet_id,
                            AppendCallback done) {
  if (partition.value() >= options_.partitions) {
    ++appends_failed_;
    return done(absl::InvalidArgumentError("commit log: no partition " +
                                           std::to_string(partition.value())));
  }
  std::string command;
  if (record.timestamp_ms == 0) {
    Record stamped = record;
    stamped.timestamp_ms = options_.clock->WallMs();
    command = EncodeAppendCommand(stamped, qos2_packet_id);
  } else {
    command = EncodeAppendCommand(record, qos2_packet_id);
  }
  if (command.size() - AppendCommandHeaderBytes(qos2_packet_id) > options_.record_bytes_max) {
    ++appends_failed_;
    return done(absl::InvalidArgumentError("commit log: record over record_bytes_max"));
  }
  Propose(partition, std::move(command),
          [this, partition, done = std::move(done)](absl::StatusOr<LogIndex> r) {
            if (!r.ok()) {
              ++appends_failed_;
              return done(r.status());
            }
            ++appends_;
            done(state_->AppendedOffset(partition, *r));
          });
}

std::future<absl::StatusOr<Offset>> PartitionedLog::Append(PartitionId partition,
                                                           const Record& record) {
  auto p = std::make_shared<std::promise<absl::StatusOr<Offset>>>();
  auto f = p->get_future();
  Append(partition, record, [p](absl::StatusOr<Offset> r) { p->set_value(std::move(r)); });
  return f;
}

void PartitionedLog::CommitCursor(PartitionId partition, std::string name, Offset offset,
                                  int64_t expiry_ms, DoneCallback done) {
  absl::StatusOr<PartitionInfo> info = state_->Info(partition);
  if (!info.ok()) return done(info.status());
  if (name.empty() || name.size() > options_.cursor_name_bytes_max) {
    return done(absl::InvalidArgumentError("commit log: cursor name empty or too long"));
  }
  if (offset > info->high_watermark) {
    return done(absl::OutOfRangeError("commit log: cursor past the high watermark"));
  }
  CursorCommand c{std::move(name), offset, options_.clock->WallMs(), expiry_ms};
  Propose(partition, EncodeCursorCommand(CommandType::kCommitCursor, c),
          [done = std::move(done)](absl::StatusOr<LogIndex> r) { done(r.status()); });
}

absl::Status PartitionedLog::CommitCursor(PartitionId partition, std::string name, Offset offset,
                                          int64_t expiry_ms) {
  std::promise<absl::Status> p;
  auto f = p.get_future();
  CommitCursor(partition, std::move(name), offset, expiry_ms,
               [&p](absl::Status s) { p.set_value(std::move(s)); });
  return f.get();
}

absl::Status PartitionedLog::DeleteCursor(PartitionId partition, std::string name) {
  RETURN_IF_ERROR(state_->Info(partition).status());
  CursorCommand c{std::move(name), Offset(0), options_.clock->WallMs(), 0};
  return raft_->Propose(LogState::GroupOf(partition),
                        EncodeCursorCommand(CommandType::kDeleteCursor, c))
      .get()
      .status();
}

void PartitionedLog::ReleaseQos2(PartitionId partition, std::string publisher,
                                 uint16_t packet_id, DoneCallback done) {
  if (absl::Status s = state_->Info(partition).status(); !s.ok()) return done(s);
  if (packet_id == 0 || publisher.size() > 65'535) {
    return done(absl::InvalidArgumentError("commit log: qos 2 packet id 0 or publisher too long"));
  }
  Propose(partition, EncodeReleaseQos2Command(packet_id, publisher),
          [done = std::move(done)](absl::StatusOr<LogIndex> r) { done(r.status()); });
}

absl::Status PartitionedLog::ReleaseQos2(PartitionId partition, std::string publisher,
                                         uint16_t packet_id) {
  return Wait([&](DoneCallback done) {
    ReleaseQos2(partition, std::move(publisher), packet_id, std::move(done));
  });
}

std::vector<PendingQos2> PartitionedLog::ListPendingQos2() const {
  absl::StatusOr<std::vector<PendingQos2>> r = state_->ListPendingQos2();
  SLUICE_CHECK_MSG(r.ok(), ("commit log: cannot read the qos 2 state: " +
                            r.status().ToString()).c_str());
  return *std::move(r);
}

std::vector<StoredRecord> PartitionedLog::ListRetained() const {
  absl::StatusOr<std::vector<StoredRecord>> r = state_->ListRetained();
  SLUICE_CHECK_MSG(r.ok(), ("commit log: cannot read the retained messages: " +
                            r.status().ToString()).c_str());
  return *std::move(r);
}

void PartitionedLog::ProposeState(std::string command, DoneCallback done) {
  raft_->Propose(LogState::kMetadataGroup, std::move(command),
                 [done = std::move(done)](absl::StatusOr<LogIndex> r) { done(r.status()); });
}

void PartitionedLog::PutState(std::string key, std::string value, DoneCallback done) {
  if (key.empty() || key.size() > options_.state_key_bytes_max) {
    return done(absl::InvalidArgumentError("commit log: state key empty or too long"));
  }
  if (value.size() > options_.record_bytes_max) {
    return done(absl::InvalidArgumentError("commit log: state value over record_bytes_max"));
  }
  ProposeState(EncodePutStateCommand(key, value), std::move(done));
}

void PartitionedLog::DeleteState(std::string key, DoneCallback done) {
  if (key.empty() || key.size() > options_.state_key_bytes_max) {
    return done(absl::InvalidArgumentError("commit log: state key empty or too long"));
  }
  ProposeState(EncodeDeleteStateCommand(key), std::move(done));
}

absl::Status PartitionedLog::PutState(std::string key, std::string value) {
  return Wait([&](DoneCallback done) {
    PutState(std::move(key), std::move(value), std::move(done));
  });
}

absl::Status PartitionedLog::DeleteState(std::string key) {
  return Wait([&](DoneCallback done) { DeleteState(std::move(key), std::move(done)); });
}

absl::StatusOr<int> PartitionedLog::EnforceRetention() {
  const int64_t now_ms = options_.clock->WallMs();
  std::vector<std::future<absl::StatusOr<LogIndex>>> pending;
  for (uint32_t p = 0; p < options_.partitions; ++p) {
    bool cursors_expired = false;
    ASSIGN_OR_RETURN(RetentionDecision d,
                     state_->PreviewRetention(PartitionId(p), now_ms, &cursors_expired));
    ASSIGN_OR_RETURN(PartitionInfo info, state_->Info(PartitionId(p)));
    if (d.new_start <= info.log_start && !cursors_expired) continue;
    ++retention_proposals_;
    pending.push_back(raft_->Propose(LogState::GroupOf(PartitionId(p)),
                                     EncodeRetentionCommand(now_ms)));
  }
  for (auto& f : pending) RETURN_IF_ERROR(f.get().status());
  return static_cast<int>(pending.size());
}

LogStats PartitionedLog::stats() const {
  const multiraft::MultiRaftStats rs = raft_->stats();
  LogStats s;
  s.appends = appends_.load();
  s.appends_failed = appends_failed_.load();
  s.raft_writes = rs.storage_writes;
  s.raft_readies = rs.readies;
  s.retention_proposals = retention_proposals_.load();
  s.interval_syncs = interval_syncs_.load();
  return s;
}

multiraft::MultiRaftStats PartitionedLog::raft_stats() const { return raft_->stats(); }

std::optional<multiraft::GroupStatus> PartitionedLog::RaftStatus(PartitionId partition) const {
  if (partition.value() >= partitions()) return std::nullopt;
  return raft_->Status(LogState::GroupOf(partition));
}

NodeId PartitionedLog::node_id() const { return raft_->self(); }

}  // namespace sluice::storage
