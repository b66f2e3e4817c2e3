// Bridge status: per (rule, partition) for MQTT→Kafka, per rule for Kafka→MQTT; what the admin
// API (GetBridgeStatus, `sluicectl bridge status`) and the metrics endpoint show. Value types,
// header-only (no librdkafka), so broker/admin can use them without linking the bridge.
#ifndef SLUICE_BRIDGE_WORKER_STATUS_H_
#define SLUICE_BRIDGE_WORKER_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"

namespace sluice::bridge {

enum class WorkerState {
  kRunning,   // reading and producing (or idle at the high watermark)
  kRetrying,  // a delivery failed: waiting for the outstanding reports, then backing off
  kStopped,
  kPaused,    // paused by an operator: reads and produces nothing (outstanding deliveries
              // still complete and are checkpointed); resumes from where it stopped
};
inline std::string_view WorkerStateName(WorkerState s) {
  switch (s) {
    case WorkerState::kRunning: return "running";
    case WorkerState::kRetrying: return "retrying";
    case WorkerState::kStopped: return "stopped";
    case WorkerState::kPaused: return "paused";
  }
  return "?";
}

struct WorkerStatus {
  std::string rule;
  PartitionId partition;
  WorkerState state = WorkerState::kRunning;
  Offset checkpoint;      // the durable cursor: a restart resumes here
  Offset acknowledged;    // every record before it is acknowledged by Kafka (or skipped)
  Offset high_watermark;  // of the log partition
  uint64_t lag = 0;       // high_watermark - checkpoint (records)
  uint64_t inflight = 0;  // produced, no delivery report yet
  // Counters since start.
  uint64_t produced = 0;
  uint64_t delivered = 0;
  uint64_t delivery_failures = 0;   // failed delivery reports (each leads to a retry)
  uint64_t retries = 0;             // rewinds to the first unacknowledged record
  uint64_t resent_after_ack = 0;    // records produced again although Kafka had acknowledged
                                    // them: the possible duplicates of the retry case
  uint64_t skipped_unmappable = 0;  // matched the rule but had no valid Kafka topic/key
  uint64_t lost_to_retention = 0;   // deleted by a hard retention limit before being produced
  uint64_t window_full = 0;         // times the per-worker inflight limit stopped reading
  uint64_t queue_full = 0;          // times librdkafka's local queue was full
  uint64_t checkpoints = 0;         // cursor commits
  std::string last_error;
  int64_t last_error_ms = 0;  // monotonic
};

// Kafka→MQTT, per kafka_to_mqtt rule (counters since start).
struct ConsumerRuleStatus {
  std::string rule;
  bool paused = false;  // paused by an operator: its Kafka partitions are not fetched
  uint64_t consumed = 0, published = 0, publish_failures = 0, skipped_unmappable = 0,
           consumer_errors = 0;
  std::string last_error;
};

// Both directions at once, as the broker reports them.
struct BridgeStatusReport {
  std::vector<WorkerStatus> mqtt_to_kafka;       // rules in config order, then partitions
  std::vector<ConsumerRuleStatus> kafka_to_mqtt;  // rules in config order
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_WORKER_STATUS_H_
