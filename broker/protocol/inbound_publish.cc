#include "broker/protocol/inbound_publish.h"

#include "mqtt/topic/topic.h"

namespace sluice::broker::protocol {

namespace reason = mqtt::reason;

Violation TopicAliases::Resolve(mqtt::Publish& p) {
  std::optional<uint16_t> alias = p.properties.topic_alias;
  if (!alias) return {};
  if (*alias == 0 || *alias > max_) return {reason::kTopicAliasInvalid, "topic alias out of range"};
  if (topics_.empty()) topics_.resize(static_cast<size_t>(max_) + 1);
  if (p.topic.empty()) {
    if (topics_[*alias].empty()) return {reason::kProtocolError, "unknown topic alias"};
    p.topic = topics_[*alias];
  } else {
    topics_[*alias] = p.topic;
  }
  p.properties.topic_alias.reset();
  return {};
}

Violation CheckInboundPublish(const mqtt::Publish& p, mqtt::Version version,
                              size_t incoming_qos2, int64_t receive_maximum) {
  if (!topic::IsValidTopicName(p.topic)) return {reason::kTopicNameInvalid, "invalid topic name"};
  if (!p.properties.subscription_identifiers.empty())
    return {reason::kProtocolError, "subscription identifier in PUBLISH"};
  if (p.qos == 2 && version == mqtt::Version::k5 &&
      incoming_qos2 >= static_cast<size_t>(receive_maximum))
    return {reason::kReceiveMaximumExceeded, "receive maximum exceeded"};
  return {};
}

}  // namespace sluice::broker::protocol
