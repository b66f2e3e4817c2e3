// BrokerPublisher: the MqttPublisher that injects Kafka records into the running broker. The
// message is routed on shard 0's thread (posted to its io_context, since Shard::Route must run
// on its own shard; shard 0 is as good as any — a broker-originated message has no home
// client), and stored as the topic's retained message first when `retain` is set. Publish
// returns once the message is posted: delivery to subscribers follows the broker's QoS rules,
// so Kafka→MQTT is at-least-once up to the broker, not end to end to every subscriber.
// Thread-safe (posting is).
#ifndef SLUICE_BRIDGE_MQTT_BROKER_PUBLISHER_H_
#define SLUICE_BRIDGE_MQTT_BROKER_PUBLISHER_H_

#include "bridge/mqtt/mqtt_publisher.h"

namespace sluice::broker {
class Broker;
}

namespace sluice::bridge {

class BrokerPublisher final : public MqttPublisher {
 public:
  explicit BrokerPublisher(broker::Broker* broker) : broker_(broker) {}  // not owned
  absl::Status Publish(const MqttMessage& message) override;

 private:
  broker::Broker* broker_;
};

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MQTT_BROKER_PUBLISHER_H_
