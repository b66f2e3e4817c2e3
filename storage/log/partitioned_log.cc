// PartitionedLog: appends, commands and reads after Open (partitioned_log_open.cc).
#include "storage/log/partitioned_log.h"

#include <utility>

#include "base/check.h"
#include "base/planted_bug.h"
#include "base/status.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/local_transport.h"
#include "cluster/transport/transport.h"

namespace sluice::storage {
namespace {

// Runs `start` with a callback and waits for it. The promise is shared with the callback:
// the driver thread may still be inside set_value when the waiter returns.
absl::Status Wait(const std::function<void(PartitionedLog::DoneCallback)>& start) {
  auto p = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = p->get_future();
  start([p](absl::Status s) { p->set_value(std::move(s)); });
  return f.get();
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
  // No handler call after the transport stopped; then the driver (pending requests complete).
  if (transport_ && raft_) transport_->Stop();
  if (raft_) raft_->Stop();
  raft_.reset();
  local_transport_.reset();
  state_.reset();
  raft_store_.reset();
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
  if (SLUICE_BUG_PLANTED(kAckBeforeApply) && RaftStatus(partition)->leader == node_id()) {
    return AppendAckingEarly(partition, std::move(command), done);
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

// The planted bug kAckBeforeApply (base/planted_bug.h): on the leader, acknowledges at once
// with the offset the record would get if every append in flight succeeded -- right as long
// as nothing fails, wrong when leadership moves while appends are in flight.
void PartitionedLog::AppendAckingEarly(PartitionId partition, std::string command,
                                       const AppendCallback& done) {
  absl::StatusOr<PartitionInfo> info = state_->Info(partition);
  SLUICE_CHECK_OK(info.status());
  uint64_t in_flight = 0;
  {
    std::lock_guard<std::mutex> l(planted_mu_);
    in_flight = planted_in_flight_[partition.value()]++;
  }
  ++appends_;
  done(Offset(info->high_watermark.value() + in_flight));
  Propose(partition, std::move(command), [this, partition](absl::StatusOr<LogIndex>) {
    std::lock_guard<std::mutex> l(planted_mu_);
    --planted_in_flight_[partition.value()];
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
  return Wait([&](DoneCallback done) {
    Propose(partition, EncodeCursorCommand(CommandType::kDeleteCursor, c),
            [done = std::move(done)](absl::StatusOr<LogIndex> r) { done(r.status()); });
  });
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

absl::StatusOr<std::vector<PendingQos2>> PartitionedLog::ListPendingQos2() const {
  return state_->ListPendingQos2();
}

absl::StatusOr<std::vector<StoredRecord>> PartitionedLog::ListRetained() const {
  return state_->ListRetained();
}

void PartitionedLog::ProposeState(std::string command, DoneCallback done) {
  ProposeGroup(LogState::kMetadataGroup, std::move(command),
               [done = std::move(done)](absl::StatusOr<LogIndex> r) { done(r.status()); });
}

void PartitionedLog::ProposeEvent(std::string body,
                                  std::function<void(absl::StatusOr<LogIndex>)> done) {
  if (body.size() > options_.record_bytes_max) {
    return done(absl::InvalidArgumentError("commit log: event over record_bytes_max"));
  }
  ProposeGroup(LogState::kMetadataGroup, EncodeEventCommand(body), std::move(done));
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
  const bool cluster = options_.transport != nullptr;
  for (uint32_t p = 0; p < options_.partitions; ++p) {
    // In a cluster the partition's leader decides (every replica runs this pass).
    if (cluster) {
      std::optional<multiraft::GroupStatus> st = RaftStatus(PartitionId(p));
      if (!st || st->state != raft::StateType::kLeader) continue;
    }
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
  s.proposals_parked = rs.proposals_held;
  s.proposals_parked_now = rs.proposals_held_now;
  return s;
}

multiraft::MultiRaftStats PartitionedLog::raft_stats() const { return raft_->stats(); }

void PartitionedLog::Propose(PartitionId partition, std::string command, ProposeCallback done) {
  ProposeGroup(LogState::GroupOf(partition), std::move(command), std::move(done));
}

void PartitionedLog::ProposeGroup(GroupId group, std::string command, ProposeCallback done) {
  raft_->Propose(group, std::move(command), std::move(done));
}

std::optional<multiraft::GroupStatus> PartitionedLog::RaftStatus(PartitionId partition) const {
  if (partition.value() >= partitions()) return std::nullopt;
  return raft_->Status(LogState::GroupOf(partition));
}

std::optional<multiraft::GroupStatus> PartitionedLog::MetadataRaftStatus() const {
  return raft_->Status(LogState::kMetadataGroup);
}

NodeId PartitionedLog::node_id() const { return raft_->self(); }

bool PartitionedLog::AwaitRaftStatus(
    PartitionId partition, const std::function<bool(const multiraft::GroupStatus&)>& pred,
    std::chrono::milliseconds timeout) const {
  if (partition.value() >= partitions()) return false;
  return raft_->AwaitStatus(LogState::GroupOf(partition), pred, timeout);
}

bool PartitionedLog::RunOnce() {
  SLUICE_CHECK_MSG(options_.external_driver, "PartitionedLog::RunOnce without external_driver");
  return raft_->RunOnce();
}

}  // namespace sluice::storage
