// KafkaToMqttBridge: one consumer thread per kafka_to_mqtt rule. Each consumes the rule's Kafka
// topics in its consumer group, maps every record (rules.h MapToMqtt) and hands it to the
// MqttPublisher; the record's offset is stored for commit only after Publish returned OK, and
// a failed Publish is retried with backoff (doubling up to limits.backoff_ms_max) until it
// succeeds or the bridge stops: at-least-once into the publisher, per Kafka partition in order.
// Records that cannot be mapped (e.g. no key for a {key} template) are skipped and counted.
//
// Thread-safety: Stop and Status are thread-safe. Stop commits the handled offsets and leaves
// the groups; it returns within about one poll interval (100 ms) plus the commit.
#ifndef SLUICE_BRIDGE_MQTT_KAFKA_TO_MQTT_H_
#define SLUICE_BRIDGE_MQTT_KAFKA_TO_MQTT_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/mapping/config.h"
#include "bridge/mqtt/mqtt_publisher.h"
#include "bridge/worker/status.h"  // ConsumerRuleStatus

namespace sluice::bridge {

class KafkaToMqttBridge {
 public:
  // `publisher` is not owned and outlives the bridge. Errors: InvalidArgument (Kafka settings).
  static absl::StatusOr<std::unique_ptr<KafkaToMqttBridge>> Start(const BridgeConfig& config,
                                                                  MqttPublisher* publisher);
  ~KafkaToMqttBridge();  // Stop()
  void Stop();
  std::vector<ConsumerRuleStatus> Status() const;
  // Pauses (resumes) the consumer of rule `rule` ("" = every rule): its assigned Kafka
  // partitions are paused (librdkafka pause; the consumer keeps polling, so it stays in its
  // group), and a record that arrives while pausing is rewound, not published. Resuming
  // continues at the first unhandled record. Not persisted. Returns once Status() shows it
  // (DeadlineExceeded after `timeout_ms`). Errors: NotFound (no such rule),
  // FailedPrecondition (stopped).
  absl::Status SetPaused(const std::string& rule, bool paused, int64_t timeout_ms = 5000);

 private:
  struct RuleRunner;
  KafkaToMqttBridge() = default;
  void Run(RuleRunner* r);
  bool SleepUnlessStopped(int64_t ms);

  BridgeConfig config_;
  MqttPublisher* publisher_ = nullptr;
  std::vector<std::unique_ptr<RuleRunner>> runners_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  mutable std::mutex status_mu_;
  std::condition_variable status_cv_;  // a rule's `paused` changed
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MQTT_KAFKA_TO_MQTT_H_
