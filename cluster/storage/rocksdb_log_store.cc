#include "cluster/storage/rocksdb_log_store.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <utility>

#include "base/check.h"
#include "base/status.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/cache.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_buffer_manager.h"
#include "rocksdb/write_batch.h"

namespace sluice::raftstore {

using raft::Entry;
using raft::HardState;
using raft::Snapshot;

absl::Status FromRocksDb(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = "rocksdb: " + s.ToString();
  switch (s.code()) {
    case rocksdb::Status::kNotFound: return absl::NotFoundError(msg);
    case rocksdb::Status::kCorruption: return absl::DataLossError(msg);
    case rocksdb::Status::kNotSupported: return absl::UnimplementedError(msg);
    case rocksdb::Status::kInvalidArgument: return absl::InvalidArgumentError(msg);
    case rocksdb::Status::kIOError: return absl::UnavailableError(msg);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain: return absl::UnavailableError(msg);
    case rocksdb::Status::kTimedOut: return absl::DeadlineExceededError(msg);
    case rocksdb::Status::kAborted: return absl::AbortedError(msg);
    case rocksdb::Status::kShutdownInProgress: return absl::CancelledError(msg);
    default: return absl::InternalError(msg);
  }
}

namespace {

constexpr uint64_t kMaxIndex = std::numeric_limits<uint64_t>::max();

// Deletes entries [lo, hi] of `group`: point deletes for short ranges, else one tombstone.
void DeleteEntries(rocksdb::WriteBatch& b, GroupId group, LogIndex lo, LogIndex hi,
                   uint64_t point_deletes_max) {
  if (hi < lo) return;
  if (hi.value() - lo.value() < point_deletes_max) {
    for (uint64_t i = lo.value(); i <= hi.value(); ++i) b.Delete(EntryKey(group, LogIndex(i)));
  } else {
    b.DeleteRange(EntryKey(group, lo), EntryKey(group, hi.Next()));
  }
}

std::string MetadataOnly(const raft::SnapshotMetadata& m) {
  return EncodeSnapshot(Snapshot{m, {}});
}

// `path` and its parents, on the local file system or through `env` (e.g. an in-memory one).
absl::Status CreateDirectories(rocksdb::Env* env, const std::string& path) {
  if (env == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return absl::UnavailableError("raft log store: cannot create " + path + ": " + ec.message());
    }
    return absl::OkStatus();
  }
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string dir = path.substr(0, end);
    if (!dir.empty()) RETURN_IF_ERROR(FromRocksDb(env->CreateDirIfMissing(dir)));
    if (end == std::string::npos) break;
  }
  return absl::OkStatus();
}

}  // namespace

// ---- GroupLog -----------------------------------------------------------------------------

absl::StatusOr<raft::PersistedState> GroupLog::InitialState() const {
  return raft::PersistedState{state_.hard_state, state_.snapshot.conf_state};
}

absl::StatusOr<std::vector<Entry>> GroupLog::Entries(LogIndex lo, LogIndex hi,
                                                     uint64_t max_bytes) const {
  if (lo <= state_.truncated.index) return raft::LogCompactedError();
  SLUICE_CHECK_MSG(hi <= state_.last.Next(), "entries past the last index");
  if (state_.last == state_.truncated.index) return raft::EntryUnavailableError();
  std::vector<Entry> out;
  if (lo >= hi) return out;
  const std::string lo_key = EntryKey(group_, lo);
  const std::string hi_key = EntryKey(group_, hi);
  rocksdb::Slice upper(hi_key);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(store_->db_->NewIterator(ro));
  uint64_t size = 0;
  LogIndex want = lo;
  for (it->Seek(lo_key); it->Valid(); it->Next()) {
    const LogIndex index = EntryKeyIndex(it->key().ToStringView());
    if (index != want) return absl::DataLossError("raft log store: gap in the log");
    ASSIGN_OR_RETURN(Entry e, DecodeEntry(index, it->value().ToStringView()));
    size += raft::EntrySizeBytes(e);
    if (!out.empty() && size > max_bytes) break;
    out.push_back(std::move(e));
    want = want.Next();
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  if (out.empty() || (out.back().index.Next() != hi && size <= max_bytes)) {
    return absl::DataLossError("raft log store: entries missing");
  }
  return out;
}

absl::StatusOr<sluice::Term> GroupLog::TermAt(LogIndex i) const {
  if (i < state_.truncated.index) return raft::LogCompactedError();
  if (i == state_.truncated.index) return state_.truncated.term;
  if (i > state_.last) return raft::EntryUnavailableError();
  rocksdb::PinnableSlice value;
  rocksdb::Status s = store_->db_->Get(rocksdb::ReadOptions(), store_->db_->DefaultColumnFamily(),
                                       EntryKey(group_, i), &value);
  if (s.IsNotFound()) return absl::DataLossError("raft log store: entry missing");
  RETURN_IF_ERROR(FromRocksDb(s));
  return DecodeEntryTerm(value.ToStringView());
}

absl::StatusOr<LogIndex> GroupLog::FirstIndex() const { return state_.truncated.index.Next(); }

absl::StatusOr<LogIndex> GroupLog::LastIndex() const { return state_.last; }

absl::StatusOr<Snapshot> GroupLog::GetSnapshot() const {
  Snapshot snap;
  snap.metadata = state_.snapshot;
  if (snap.metadata.index == LogIndex(0)) return snap;
  std::string image;
  rocksdb::Status s = store_->db_->Get(rocksdb::ReadOptions(), SnapshotImageKey(group_), &image);
  if (!s.IsNotFound()) RETURN_IF_ERROR(FromRocksDb(s));
  snap.data = std::move(image);
  return snap;
}

// ---- LogWriteBatch ------------------------------------------------------------------------

LogWriteBatch::LogWriteBatch(RocksDbLogStore* store)
    : store_(store), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
LogWriteBatch::~LogWriteBatch() = default;
LogWriteBatch::LogWriteBatch(LogWriteBatch&&) noexcept = default;

uint64_t LogWriteBatch::bytes() const { return batch_->GetDataSize(); }

void LogWriteBatch::Append(GroupStorage* storage, const std::optional<HardState>& hard_state,
                           const std::vector<Entry>& entries,
                           const std::optional<Snapshot>& snapshot) {
  SLUICE_CHECK_MSG(!committed_, "LogWriteBatch used after Commit");
  GroupLog* log = store_->Own(storage);
  GroupLog::State& st = pending_.try_emplace(log, log->state_).first->second;
  const GroupId g = log->group_;
  rocksdb::WriteBatch& b = *batch_;
  const uint64_t point_max = store_->options_.truncate_point_deletes_max;

  if (snapshot && !snapshot->IsEmpty()) {
    const raft::SnapshotMetadata& m = snapshot->metadata;
    SLUICE_CHECK_MSG(m.index > st.truncated.index, "installing a snapshot older than the log");
    DeleteEntries(b, g, st.truncated.index.Next(), st.last, point_max);
    b.Put(SnapshotKey(g), MetadataOnly(m));
    b.Put(SnapshotImageKey(g), snapshot->data);
    st.truncated = Truncated{m.index, m.term};
    b.Put(TruncatedKey(g), EncodeTruncated(st.truncated));
    st.snapshot = m;
    st.last = m.index;
  }

  size_t skip = 0;
  while (skip < entries.size() && entries[skip].index <= st.truncated.index) ++skip;
  if (skip < entries.size()) {
    const LogIndex first = entries[skip].index;
    SLUICE_CHECK_MSG(first <= st.last.Next(), "gap between the log and appended entries");
    // Truncate the conflicting suffix (everything from `first` on is replaced).
    DeleteEntries(b, g, first, st.last, point_max);
    for (size_t i = skip; i < entries.size(); ++i) {
      b.Put(EntryKey(g, entries[i].index), EncodeEntry(entries[i]));
    }
    st.last = entries.back().index;
  }

  if (hard_state) {
    b.Put(HardStateKey(g), EncodeHardState(*hard_state));
    st.hard_state = *hard_state;
  }
}

absl::Status LogWriteBatch::Commit() {
  SLUICE_CHECK_MSG(!committed_, "LogWriteBatch committed twice");
  committed_ = true;
  if (pending_.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(store_->Write(batch_.get()));
  for (auto& [log, state] : pending_) log->state_ = std::move(state);
  return absl::OkStatus();
}

// ---- RocksDbLogStore ----------------------------------------------------------------------

RocksDbLogStore::RocksDbLogStore(std::unique_ptr<rocksdb::DB> db, RocksDbLogStoreOptions options)
    : db_(std::move(db)), options_(options) {}

RocksDbLogStore::~RocksDbLogStore() {
  groups_.clear();
  if (db_) (void)db_->Close();
}

absl::StatusOr<std::unique_ptr<RocksDbLogStore>> RocksDbLogStore::Open(
    const std::string& path, RocksDbLogStoreOptions options) {
  RETURN_IF_ERROR(CreateDirectories(options.env, path));
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_background_jobs = 2;
  if (options.env) o.env = options.env;
  rocksdb::BlockBasedTableOptions table;
  if (options.memory_budget_bytes > 0) {
    // One budget: the cache holds blocks, index and filter blocks (instead of table readers
    // kept outside it), and the memtables are charged to it.
    const uint64_t budget = options.memory_budget_bytes;
    table.block_cache = rocksdb::NewLRUCache(budget);
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    o.write_buffer_manager =
        std::make_shared<rocksdb::WriteBufferManager>(budget / 2, table.block_cache);
    // Two memtables of a quarter each: larger flushes mean fewer, larger L0 files and less
    // compaction work per record (the log is append-only per group, but 16+ groups share
    // every flush, so L0 files overlap).
    o.write_buffer_size = std::max<uint64_t>(budget / 4, 1 << 20);
    o.max_write_buffer_number = 2;
  } else {
    table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
    o.write_buffer_size = options.write_buffer_bytes;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::DB::Open(o, path, &raw)));
  return std::unique_ptr<RocksDbLogStore>(
      new RocksDbLogStore(std::unique_ptr<rocksdb::DB>(raw), options));
}

absl::Status RocksDbLogStore::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  RETURN_IF_ERROR(FromRocksDb(db_->Write(wo, batch)));
  ++commits_;
  return absl::OkStatus();
}

absl::Status RocksDbLogStore::SyncWal() { return FromRocksDb(db_->SyncWAL()); }

absl::Status RocksDbLogStore::CrashImageForTesting(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw)));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // No flush before copying (log_size_for_flush = max): the live WAL is copied as it is.
  return FromRocksDb(cp->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max()));
}

absl::StatusOr<std::vector<GroupId>> RocksDbLogStore::ListGroups() const {
  std::vector<GroupId> out;
  const std::string lo(1, kRegistryPrefix);
  const std::string hi(1, kRegistryPrefix + 1);
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    out.push_back(RegistryKeyGroup(it->key().ToStringView()));
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return out;
}

bool RocksDbLogStore::Exists(GroupId group) const {
  if (groups_.count(group)) return true;
  std::string v;
  return db_->Get(rocksdb::ReadOptions(), RegistryKey(group), &v).ok();
}

GroupLog* RocksDbLogStore::Find(GroupId group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second.get();
}

absl::StatusOr<GroupLog::State> RocksDbLogStore::LoadGroup(GroupId group) const {
  GroupLog::State st;
  const rocksdb::ReadOptions ro;
  std::string v;
  rocksdb::Status s = db_->Get(ro, HardStateKey(group), &v);
  if (!s.IsNotFound()) {
    RETURN_IF_ERROR(FromRocksDb(s));
    ASSIGN_OR_RETURN(st.hard_state, DecodeHardState(v));
  }
  RETURN_IF_ERROR(FromRocksDb(db_->Get(ro, SnapshotKey(group), &v)));
  ASSIGN_OR_RETURN(Snapshot snap, DecodeSnapshot(v));
  st.snapshot = std::move(snap.metadata);
  RETURN_IF_ERROR(FromRocksDb(db_->Get(ro, TruncatedKey(group), &v)));
  ASSIGN_OR_RETURN(st.truncated, DecodeTruncated(v));
  // The last index: one backwards seek from the end of the group's entry range.
  st.last = st.truncated.index;
  const std::string lo_key = EntryKey(group, LogIndex(0));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->SeekForPrev(EntryKey(group, LogIndex(kMaxIndex)));
  if (it->Valid() && it->key().size() == lo_key.size() &&
      it->key().starts_with(rocksdb::Slice(lo_key.data(), kGroupKeyBytes + 1))) {
    const LogIndex last = EntryKeyIndex(it->key().ToStringView());
    if (last > st.last) st.last = last;
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return st;
}

absl::StatusOr<GroupLog*> RocksDbLogStore::OpenGroup(GroupId group,
                                                     const raft::ConfState& bootstrap) {
  if (GroupLog* open = Find(group)) return open;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), RegistryKey(group), &v);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch b;
    b.Put(RegistryKey(group), "");
    raft::SnapshotMetadata m;
    m.conf_state = bootstrap;
    b.Put(SnapshotKey(group), MetadataOnly(m));
    b.Put(TruncatedKey(group), EncodeTruncated(Truncated{}));
    RETURN_IF_ERROR(Write(&b));
  } else {
    RETURN_IF_ERROR(FromRocksDb(s));
  }
  ASSIGN_OR_RETURN(GroupLog::State st, LoadGroup(group));
  auto log = std::unique_ptr<GroupLog>(new GroupLog(this, group, std::move(st)));
  GroupLog* out = log.get();
  groups_.emplace(group, std::move(log));
  return out;
}

GroupLog* RocksDbLogStore::Own(GroupStorage* storage) const {
  SLUICE_CHECK(storage != nullptr);
  GroupLog* log = Find(storage->group());
  SLUICE_CHECK_MSG(log == storage, "a group log of another store");
  return log;
}

absl::StatusOr<GroupStorage*> RocksDbLogStore::OpenGroupStorage(GroupId group,
                                                                const raft::ConfState& bootstrap) {
  ASSIGN_OR_RETURN(GroupLog * log, OpenGroup(group, bootstrap));
  return log;
}

std::unique_ptr<LogBatch> RocksDbLogStore::NewLogBatch() {
  return std::unique_ptr<LogBatch>(new LogWriteBatch(this));
}

absl::Status RocksDbLogStore::CreateSnapshot(GroupStorage* storage, LogIndex index,
                                             const raft::ConfState& conf_state, std::string data) {
  GroupLog* log = Own(storage);
  GroupLog::State& st = log->state_;
  if (index <= st.snapshot.index) return raft::SnapshotOutOfDateError();
  SLUICE_CHECK_MSG(index <= st.last, "snapshot past the last index");
  ASSIGN_OR_RETURN(sluice::Term term, log->TermAt(index));
  raft::SnapshotMetadata m{index, term, conf_state};
  rocksdb::WriteBatch b;
  b.Put(SnapshotKey(log->group_), MetadataOnly(m));
  b.Put(SnapshotImageKey(log->group_), data);
  RETURN_IF_ERROR(Write(&b));
  st.snapshot = std::move(m);
  return absl::OkStatus();
}

absl::Status RocksDbLogStore::Compact(GroupStorage* storage, LogIndex index) {
  GroupLog* log = Own(storage);
  GroupLog::State& st = log->state_;
  if (index <= st.truncated.index) return raft::LogCompactedError();
  SLUICE_CHECK_MSG(index <= st.snapshot.index, "compaction past the latest snapshot");
  ASSIGN_OR_RETURN(sluice::Term term, log->TermAt(index));
  rocksdb::WriteBatch b;
  DeleteEntries(b, log->group_, st.truncated.index.Next(), index,
                options_.truncate_point_deletes_max);
  const Truncated t{index, term};
  b.Put(TruncatedKey(log->group_), EncodeTruncated(t));
  RETURN_IF_ERROR(Write(&b));
  st.truncated = t;
  return absl::OkStatus();
}

}  // namespace sluice::raftstore
