#include "bridge/worker/partition_worker.h"

#include <algorithm>
#include <climits>

#include "base/check.h"
#include "base/log.h"

namespace sluice::bridge {

PartitionWorker::PartitionWorker(uint32_t index, const MqttToKafkaRule* rule, PartitionId partition,
                                 storage::PartitionedLog* log, const BridgeLimits* limits)
    : index_(index), rule_(rule), partition_(partition), log_(log), limits_(limits),
      cursor_(CursorName(*rule)) {
  status_.rule = rule->name;
  status_.partition = partition;
}

absl::Status PartitionWorker::Load() {
  absl::StatusOr<storage::CursorInfo> cursor = log_->GetCursor(partition_, cursor_);
  Offset start;
  if (cursor.ok()) {
    start = cursor->offset;
  } else if (cursor.status().code() == absl::StatusCode::kNotFound) {
    absl::StatusOr<storage::PartitionInfo> info = log_->Info(partition_);
    if (!info.ok()) return info.status();
    start = rule_->start_from == StartFrom::kEarliest ? info->log_start : info->high_watermark;
    // Created now, so retention keeps what this rule has not streamed yet.
    absl::Status s = log_->CommitCursor(partition_, cursor_, start, /*expiry_ms=*/0);
    if (!s.ok()) return s;
  } else {
    return cursor.status();
  }
  checkpoint_ = acknowledged_ = next_read_ = start;
  return absl::OkStatus();
}

void PartitionWorker::Fail(const std::string& error, int64_t now_ms) {
  NoteError(error, now_ms);
  if (retrying_) return;
  retrying_ = true;
  status_.state = WorkerState::kRetrying;
  backoff_ms_ = backoff_ms_ == 0 ? limits_->backoff_ms_min
                                 : std::min(backoff_ms_ * 2, limits_->backoff_ms_max);
  retry_at_ms_ = now_ms + backoff_ms_;
}

void PartitionWorker::NoteError(const std::string& error, int64_t now_ms) {
  status_.last_error = error;
  status_.last_error_ms = now_ms;
}

void PartitionWorker::PopAcknowledged() {
  while (!window_.empty() && (window_.front() == kDone || window_.front() == kSkipped)) {
    window_.pop_front();
    acknowledged_ = acknowledged_.Next();
  }
}

bool PartitionWorker::Pump(int64_t now_ms, const ProduceFn& produce) {
  if (status_.state == WorkerState::kStopped || paused_) return false;
  if (retrying_) {
    // Rewind only once nothing of this worker is outstanding, so the resent records cannot
    // overtake older copies inside librdkafka.
    if (pending_ > 0 || now_ms < retry_at_ms_) return false;
    for (Slot s : window_) status_.resent_after_ack += s == kDone;
    window_.clear();
    next_read_ = acknowledged_;
    retrying_ = false;
    status_.state = WorkerState::kRunning;
    ++status_.retries;
    SLOG(kInfo) << "bridge worker retrying" << " rule=" << rule_->name
                << " partition=" << partition_.value() << " from=" << next_read_.value();
  }
  bool progress = false;
  while (window_.size() < limits_->inflight_records_max) {
    size_t room = std::min<uint64_t>(limits_->read_batch_records,
                                     limits_->inflight_records_max - window_.size());
    absl::StatusOr<std::vector<storage::StoredRecord>> batch =
        log_->Read(partition_, next_read_, room, limits_->read_batch_bytes);
    if (!batch.ok()) {
      if (batch.status().code() == absl::StatusCode::kOutOfRange) {
        absl::StatusOr<storage::PartitionInfo> info = log_->Info(partition_);
        if (info.ok() && next_read_ < info->log_start) {
          // A hard retention limit deleted records this rule still needed.
          if (!window_.empty()) return progress;  // let the window drain first
          uint64_t lost = info->log_start.value() - next_read_.value();
          status_.lost_to_retention += lost;
          SLOG(kWarn) << "bridge lost records to hard retention" << " rule=" << rule_->name
                      << " partition=" << partition_.value() << " records=" << lost;
          acknowledged_ = next_read_ = info->log_start;
          continue;
        }
      }
      Fail("log read: " + batch.status().ToString(), now_ms);
      return progress;
    }
    if (batch->empty()) break;
    for (storage::StoredRecord& r : *batch) {
      SLUICE_CHECK(r.offset == next_read_);
      if (!rule_->Matches(r.record.topic)) {
        window_.push_back(kSkipped);
      } else {
        absl::StatusOr<KafkaRecord> k = MapToKafka(*rule_, r.record, partition_, r.offset);
        if (!k.ok()) {
          ++status_.skipped_unmappable;
          NoteError("record " + std::to_string(r.offset.value()) + " skipped: " + k.status().ToString(),
                    now_ms);
          window_.push_back(kSkipped);
        } else {
          absl::Status s = produce(*k, MakeToken(index_, r.offset));
          if (s.code() == absl::StatusCode::kResourceExhausted) {
            ++status_.queue_full;
            PopAcknowledged();
            return progress;
          }
          if (!s.ok()) {
            Fail(s.ToString(), now_ms);
            PopAcknowledged();
            return progress;
          }
          window_.push_back(kPending);
          ++pending_;
          ++status_.produced;
        }
      }
      next_read_ = next_read_.Next();
      progress = true;
    }
  }
  if (window_.size() >= limits_->inflight_records_max) ++status_.window_full;
  PopAcknowledged();
  return progress;
}

void PartitionWorker::OnDelivery(Offset offset, const absl::Status& status, int64_t now_ms) {
  SLUICE_CHECK(offset >= acknowledged_);
  size_t i = offset.value() - acknowledged_.value();
  SLUICE_CHECK(i < window_.size() && window_[i] == kPending);
  --pending_;
  if (status.ok()) {
    window_[i] = kDone;
    ++status_.delivered;
    if (!retrying_) backoff_ms_ = 0;
  } else {
    window_[i] = kFailed;
    ++status_.delivery_failures;
    Fail("offset " + std::to_string(offset.value()) + ": " + status.ToString(), now_ms);
  }
  PopAcknowledged();
}

void PartitionWorker::MaybeCommit(int64_t now_ms, bool force, const CommitFn& commit) {
  if (commit_inflight_ || acknowledged_ == checkpoint_) return;
  if (!force && acknowledged_.value() - checkpoint_.value() < limits_->commit_every_records &&
      now_ms - last_commit_ms_ < limits_->commit_interval_ms) {
    return;
  }
  commit_inflight_ = true;
  commit(index_, acknowledged_);
}

void PartitionWorker::OnCommitDone(Offset offset, const absl::Status& status, int64_t now_ms) {
  commit_inflight_ = false;
  last_commit_ms_ = now_ms;
  if (status.ok()) {
    checkpoint_ = std::max(checkpoint_, offset);
    ++status_.checkpoints;
  } else {
    NoteError("checkpoint: " + status.ToString(), now_ms);
  }
}

int64_t PartitionWorker::WakeAtMs() const {
  if (paused_) return INT64_MAX;
  if (retrying_ && pending_ == 0) return retry_at_ms_;
  return INT64_MAX;
}

WorkerStatus PartitionWorker::Status() const {
  WorkerStatus s = status_;
  s.checkpoint = checkpoint_;
  s.acknowledged = acknowledged_;
  s.inflight = pending_;
  if (paused_ && s.state != WorkerState::kStopped) s.state = WorkerState::kPaused;
  absl::StatusOr<storage::PartitionInfo> info = log_->Info(partition_);
  if (info.ok()) {
    s.high_watermark = info->high_watermark;
    s.lag = info->high_watermark > checkpoint_ ? info->high_watermark.value() - checkpoint_.value() : 0;
  }
  return s;
}

}  // namespace sluice::bridge
