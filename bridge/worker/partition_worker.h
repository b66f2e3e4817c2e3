// PartitionWorker: streams one log partition into Kafka for one MQTT→Kafka rule. A state
// machine with no thread and no librdkafka: the bridge (mqtt_to_kafka.h) drives it from its
// single thread — Pump() to read and produce, OnDelivery() for each delivery report,
// MaybeCommit()/OnCommitDone() for the checkpoint. Thread-compatible (one owner thread).
//
// Invariants:
//   checkpoint <= acknowledged <= next_read, window = [acknowledged, next_read), one slot per
//   log record (produced, or skipped because the rule does not match it).
//   acknowledged only passes a record once Kafka acknowledged it (or it was skipped), and the
//   durable cursor (checkpoint) only moves to an acknowledged offset: at-least-once, no gap.
//   A failed delivery stops production for this worker; once every outstanding report is in,
//   it waits a backoff (doubling, bounded) and rewinds next_read to acknowledged. Records
//   after the failed one that Kafka had already acknowledged are produced again and counted
//   (resent_after_ack): the only source of duplicates besides a crash between delivery and
//   checkpoint.
#ifndef SLUICE_BRIDGE_WORKER_PARTITION_WORKER_H_
#define SLUICE_BRIDGE_WORKER_PARTITION_WORKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "base/clock.h"
#include "base/ids.h"
#include "bridge/mapping/config.h"
#include "bridge/mapping/rules.h"
#include "bridge/worker/status.h"
#include "storage/log/partitioned_log.h"

namespace sluice::bridge {

// Production tokens carry the worker index and the log offset.
inline constexpr int kTokenOffsetBits = 48;
inline uint64_t MakeToken(uint32_t worker, Offset offset) {
  return (static_cast<uint64_t>(worker) << kTokenOffsetBits) | offset.value();
}
inline uint32_t TokenWorker(uint64_t token) { return static_cast<uint32_t>(token >> kTokenOffsetBits); }
inline Offset TokenOffset(uint64_t token) {
  return Offset(token & ((uint64_t{1} << kTokenOffsetBits) - 1));
}

class PartitionWorker {
 public:
  // Queues a record with librdkafka; see KafkaProducer::Produce.
  using ProduceFn = std::function<absl::Status(const KafkaRecord&, uint64_t token)>;
  // Starts an asynchronous cursor commit; the owner calls OnCommitDone with its outcome.
  using CommitFn = std::function<void(uint32_t worker, Offset offset)>;

  // `rule`, `log`, `limits` are not owned and outlive the worker.
  PartitionWorker(uint32_t index, const MqttToKafkaRule* rule, PartitionId partition,
                  storage::PartitionedLog* log, const BridgeLimits* limits);

  // The cursor name: "bridge:<rule name>".
  static std::string CursorName(const MqttToKafkaRule& rule) { return "bridge:" + rule.name; }

  // Loads the durable cursor, or creates it (at the log start or the high watermark, per
  // rule.start_from) so that retention keeps what the bridge still needs. Blocking (one
  // durable cursor commit); call before the bridge thread starts.
  absl::Status Load();

  // Reads committed records from the log and produces the matching ones, as far as the window
  // (limits.inflight_records_max) and librdkafka's queue allow. Returns true if it made progress.
  bool Pump(int64_t now_ms, const ProduceFn& produce);
  void OnDelivery(Offset offset, const absl::Status& status, int64_t now_ms);
  // Starts a checkpoint when enough was acknowledged (or `force`) and none is in flight.
  void MaybeCommit(int64_t now_ms, bool force, const CommitFn& commit);
  void OnCommitDone(Offset offset, const absl::Status& status, int64_t now_ms);
  // Records an error seen by the Kafka client (e.g. all brokers down) for the status.
  void NoteError(const std::string& error, int64_t now_ms);

  // Earliest time Pump may make progress without new input (backoff), or INT64_MAX.
  int64_t WakeAtMs() const;
  bool idle() const { return pending_ == 0 && !commit_inflight_ && acknowledged_ == checkpoint_; }
  PartitionId partition() const { return partition_; }
  const MqttToKafkaRule& rule() const { return *rule_; }
  uint64_t pending() const { return pending_; }
  bool commit_inflight() const { return commit_inflight_; }
  Offset acknowledged() const { return acknowledged_; }
  Offset checkpoint() const { return checkpoint_; }
  void set_stopped() { status_.state = WorkerState::kStopped; }
  // Paused: Pump reads and produces nothing (a pending retry waits too); deliveries already
  // outstanding still complete and MaybeCommit still checkpoints them. Resuming continues at
  // next_read, nothing skipped. Status() shows kPaused.
  void SetPaused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }
  WorkerStatus Status() const;  // high_watermark and lag filled in from the log

 private:
  enum Slot : uint8_t { kPending, kDone, kSkipped, kFailed };
  void PopAcknowledged();
  void Fail(const std::string& error, int64_t now_ms);

  const uint32_t index_;
  const MqttToKafkaRule* const rule_;
  const PartitionId partition_;
  storage::PartitionedLog* const log_;
  const BridgeLimits* const limits_;
  const std::string cursor_;

  Offset checkpoint_;
  Offset acknowledged_;
  Offset next_read_;
  std::deque<Slot> window_;  // window_[i] is offset acknowledged_ + i
  uint64_t pending_ = 0;
  bool retrying_ = false;
  int64_t retry_at_ms_ = 0;
  int64_t backoff_ms_ = 0;
  bool commit_inflight_ = false;
  bool paused_ = false;
  int64_t last_commit_ms_ = 0;
  WorkerStatus status_;  // counters and last error
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_WORKER_PARTITION_WORKER_H_
