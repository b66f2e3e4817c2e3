// MqttPublisher: where the Kafka→MQTT bridge hands its messages. The broker adapter
// (broker/bridge_publisher.h) routes them through the broker; tests use a fake.
//
// Contract: Publish is called from the bridge's consumer threads (one per rule, so possibly
// concurrently); it must not block for long. OK means the message was accepted (the consumer
// then marks the Kafka offset for commit); an error makes the bridge retry the same message
// after a backoff (Kafka→MQTT is at-least-once).
#ifndef SLUICE_BRIDGE_MQTT_MQTT_PUBLISHER_H_
#define SLUICE_BRIDGE_MQTT_MQTT_PUBLISHER_H_

#include "absl/status/status.h"
#include "bridge/mapping/rules.h"

namespace sluice::bridge {

class MqttPublisher {
 public:
  virtual ~MqttPublisher() = default;
  virtual absl::Status Publish(const MqttMessage& message) = 0;
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MQTT_MQTT_PUBLISHER_H_
