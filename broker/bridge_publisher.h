// BrokerPublisher: the MqttPublisher that injects Kafka records into the running broker through
// Broker::InjectPublish, i.e. exactly like a client's PUBLISH: a QoS 1/2 message is appended
// to the commit log first (and then routed, and bridged MQTT→Kafka if a rule matches), a QoS 0
// message is routed at once (a retained one is also stored, behind). Publish waits (at most `timeout_ms`) for the broker's
// answer on a stored message, so the Kafka→MQTT bridge stores the record's Kafka offset only
// once the message is durable in the log: at-least-once from Kafka into the broker's log. From
// the log to subscribers the broker's QoS rules apply. A timeout or a store failure is an error
// (the bridge retries the record: a duplicate in MQTT is possible after a timeout).
// QoS 0 messages are only posted (nothing to wait for: no acknowledgement depends on them).
//
// Thread-safety: Publish may run on several consumer threads at once (InjectPublish is
// thread-safe). Never call it on a broker shard thread (it would wait for itself).
#ifndef SLUICE_BROKER_BRIDGE_PUBLISHER_H_
#define SLUICE_BROKER_BRIDGE_PUBLISHER_H_

#include <cstdint>

#include "bridge/mqtt/mqtt_publisher.h"

namespace sluice::broker {

class Broker;

class BrokerPublisher final : public bridge::MqttPublisher {
 public:
  // `broker` is not owned; it must be started and outlive every Publish call.
  explicit BrokerPublisher(Broker* broker, int64_t timeout_ms = 10'000)
      : broker_(broker), timeout_ms_(timeout_ms) {}
  absl::Status Publish(const bridge::MqttMessage& message) override;

 private:
  Broker* broker_;
  const int64_t timeout_ms_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_BRIDGE_PUBLISHER_H_
