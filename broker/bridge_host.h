// BridgeHost: runs the Kafka bridge (bridge/) inside sluiced, on the broker's commit log.
//
//   BridgeHost host(&broker, bridge_config);  // before Broker::Start: installs the stored
//                                              // listener that wakes the MQTT→Kafka workers
//   broker.Start();                            // opens the log
//   host.Start();                              // MqttToKafkaBridge on broker.durable()->log(),
//                                              // KafkaToMqttBridge publishing via InjectPublish
//   ...
//   host.Stop();                               // Kafka→MQTT first (nothing new enters MQTT),
//                                              // then MQTT→Kafka (drains deliveries and
//                                              // checkpoints: needs the log open)
//   broker.Stop();                             // closes the log
//
// A host with an empty config does nothing (configured() is false). Status() is a snapshot of
// both directions (what the admin API and /metrics show); it stays valid after Stop.
//
// Thread-safety: constructor, Start and Stop from the controlling thread; Status and the
// stored listener from any thread. Lifetime: outlives the broker's shard threads (destroy it
// after Broker::Stop) and everything that calls Status (admin, metrics).
#ifndef SLUICE_BROKER_BRIDGE_HOST_H_
#define SLUICE_BROKER_BRIDGE_HOST_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "bridge/mapping/config.h"
#include "bridge/worker/status.h"

namespace sluice::bridge {
class MqttToKafkaBridge;
class KafkaToMqttBridge;
class MqttPublisher;
}  // namespace sluice::bridge

namespace sluice::broker {

class Broker;

class BridgeHost {
 public:
  BridgeHost(Broker* broker, bridge::BridgeConfig config);
  ~BridgeHost();  // Stop()

  bool configured() const { return !config_.empty(); }
  // After Broker::Start. Errors: the bridges' (bad Kafka properties, log errors); on an
  // error nothing stays running.
  absl::Status Start();
  // Idempotent; before Broker::Stop.
  void Stop();
  bridge::BridgeStatusReport Status() const;
  // Pauses (resumes) rule `rule` of either direction, or every rule when `rule` is empty
  // (MqttToKafkaBridge::SetPaused, KafkaToMqttBridge::SetPaused); returns once the status
  // shows it. Not persisted across restarts. Errors: FailedPrecondition (no bridge, or
  // stopped), NotFound (no such rule), DeadlineExceeded.
  absl::Status SetPaused(const std::string& rule, bool paused);

 private:
  Broker* broker_;
  const bridge::BridgeConfig config_;
  std::unique_ptr<bridge::MqttPublisher> publisher_;
  std::unique_ptr<bridge::MqttToKafkaBridge> to_kafka_;
  std::unique_ptr<bridge::KafkaToMqttBridge> to_mqtt_;
  // What the stored listener (shard threads) reads: set once to_kafka_ runs.
  std::atomic<bridge::MqttToKafkaBridge*> notify_{nullptr};
  mutable std::mutex mu_;  // guards the unique_ptrs against Status during Start/Stop
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_BRIDGE_HOST_H_
