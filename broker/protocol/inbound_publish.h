// The MQTT rules of an incoming PUBLISH before it is authorized, stored or routed (MQTT 5
// 3.3.2.3.4 topic alias, 3.3.2.3.8 subscription identifier, 3.3.4 flow control): resolving
// the topic alias, checking the topic name. Pure; one per connection, on its thread.
#ifndef SLUICE_BROKER_PROTOCOL_INBOUND_PUBLISH_H_
#define SLUICE_BROKER_PROTOCOL_INBOUND_PUBLISH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mqtt/codec/packets.h"

namespace sluice::broker::protocol {

// A rule broken: close the connection with DISCONNECT `reason` (3.1.1: a plain close).
struct Violation {
  uint8_t reason = 0;  // 0: none
  const char* what = "";
  explicit operator bool() const { return reason != 0; }
};

class TopicAliases {
 public:
  // `max`: the Topic Alias Maximum the server gave the client (0: none).
  explicit TopicAliases(uint16_t max = 0) : max_(max) {}
  void set_max(uint16_t max) { max_ = max; }
  // Resolves and clears publish.properties.topic_alias: a PUBLISH with topic and alias sets
  // the alias, one with an alias and no topic uses it.
  Violation Resolve(mqtt::Publish& publish);

 private:
  uint16_t max_;
  std::vector<std::string> topics_;  // index = alias; sized on first use
};

// After Resolve: the topic name and the properties a client may not send. `incoming_qos2`
// is how many QoS 2 messages of the client await PUBREL, `receive_maximum` the server's.
Violation CheckInboundPublish(const mqtt::Publish& publish, mqtt::Version version,
                              size_t incoming_qos2, int64_t receive_maximum);

}  // namespace sluice::broker::protocol

#endif  // SLUICE_BROKER_PROTOCOL_INBOUND_PUBLISH_H_
