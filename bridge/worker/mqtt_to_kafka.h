// MqttToKafkaBridge: streams the commit log into Kafka. One PartitionWorker per (rule, log
// partition), all driven by ONE bridge thread that owns them and the librdkafka producer
// (librdkafka does the network I/O on its own threads). The thread sleeps in poll(2) on a pipe
// that librdkafka (delivery reports), Notify() and checkpoint completions write to, and wakes
// at least every limits.idle_poll_ms to look for new records.
//
// Guarantees (see ../README.md): at-least-once and in log order per (rule, partition): a
// record's checkpoint only passes it after Kafka acknowledged it with acks=all; a restart
// resumes from the checkpoint, so records acknowledged after the last checkpoint are produced
// again (duplicates only after a crash, or after a failed delivery: counted in
// WorkerStatus::resent_after_ack). A clean Stop() waits (stop_timeout_ms) for outstanding
// deliveries and checkpoints everything acknowledged, so stop/start produces no duplicates.
// Kafka down, slow or refusing: records stay in the log (the worker's cursor holds retention
// back), the worker retries with backoff, MQTT publishers are never blocked (the bridge only
// reads the log).
//
// Thread-safety: Notify, Status, WaitForStatus and Stop are thread-safe; Stop may block up to
// stop_timeout_ms plus one cursor commit per worker.
#ifndef SLUICE_BRIDGE_WORKER_MQTT_TO_KAFKA_H_
#define SLUICE_BRIDGE_WORKER_MQTT_TO_KAFKA_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "bridge/kafka/producer.h"
#include "bridge/mapping/config.h"
#include "bridge/worker/partition_worker.h"
#include "bridge/worker/status.h"
#include "storage/log/partitioned_log.h"

namespace sluice::bridge {

struct MqttToKafkaOptions {
  BridgeConfig config;                     // kafka, limits and mqtt_to_kafka are used
  storage::PartitionedLog* log = nullptr;  // not owned; outlives the bridge
  const Clock* clock = SystemClock::Get();
  // Benchmarks and tests: called on the bridge thread for every record Kafka acknowledged.
  std::function<void(PartitionId, Offset)> on_delivered;
};

class MqttToKafkaBridge {
 public:
  // Loads or creates every worker's cursor, creates the producer and starts the thread.
  // Errors: InvalidArgument (bad Kafka properties, too many workers), log errors.
  static absl::StatusOr<std::unique_ptr<MqttToKafkaBridge>> Start(MqttToKafkaOptions options);
  ~MqttToKafkaBridge();  // Stop()

  // New records may be readable (the broker calls this after an append completes): wakes the
  // thread now instead of at the next idle poll. Cheap when already signalled.
  void Notify();
  // Waits for outstanding deliveries (bounded), checkpoints, stops the thread. Idempotent.
  void Stop();

  // Pauses (or resumes) the workers of rule `rule` ("" = every rule): a paused worker reads
  // and produces nothing; deliveries already outstanding still complete and are checkpointed,
  // so its checkpoint only moves up to what Kafka acknowledged. Resuming continues at the next
  // unread record: nothing is skipped or produced twice. Not persisted: a restarted bridge
  // runs. Returns once Status() shows the change (bounded: DeadlineExceeded after
  // `timeout_ms`). Errors: NotFound (no such rule), FailedPrecondition (stopped).
  absl::Status SetPaused(const std::string& rule, bool paused, int64_t timeout_ms = 5000);

  // A snapshot per (rule, partition), rules in config order then partitions; refreshed by the
  // bridge thread whenever something changed.
  std::vector<WorkerStatus> Status() const;
  // Waits until `done(Status())` holds, re-checking at each refresh, at most timeout_ms.
  bool WaitForStatus(const std::function<bool(const std::vector<WorkerStatus>&)>& done,
                     int64_t timeout_ms) const;

 private:
  struct Shared;  // state a late log callback may still touch: the wake pipe, commit results
  explicit MqttToKafkaBridge(MqttToKafkaOptions options);
  absl::Status CreateProducer();
  void Run();
  bool DrainCommits(int64_t now_ms);
  void Commit(uint32_t worker, Offset offset);
  void RecreateProducer();
  void Drain();
  void PublishStatus();
  void Sleep(int timeout_ms);
  bool ApplyPauseRequests();

  MqttToKafkaOptions options_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<PartitionWorker>> workers_;
  std::unique_ptr<kafka::KafkaProducer> producer_;
  PartitionWorker::ProduceFn produce_;
  PartitionWorker::CommitFn commit_;
  std::atomic<bool> fatal_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopped_ = false;

  // Pause/resume requests for the bridge thread: (rule, paused), applied in order.
  std::mutex pause_mu_;
  std::vector<std::pair<std::string, bool>> pause_requests_;

  mutable std::mutex status_mu_;
  mutable std::condition_variable status_cv_;
  std::vector<WorkerStatus> status_;
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_WORKER_MQTT_TO_KAFKA_H_
