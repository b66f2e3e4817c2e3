#include "bridge/mqtt/broker_publisher.h"

#include <boost/asio/post.hpp>

#include "broker/server/broker.h"

namespace sluice::bridge {

absl::Status BrokerPublisher::Publish(const MqttMessage& m) {
  if (broker_->shard_count() == 0) return absl::UnavailableError("broker has no shards");
  auto msg = std::make_shared<broker::Message>();
  msg->topic = m.topic;
  msg->payload = m.payload;
  msg->qos = m.qos;
  msg->retain = m.retain;
  msg->properties.content_type = m.content_type;
  msg->properties.user_properties = m.user_properties;
  msg->publisher = "";  // broker-originated: no client for no-local to exclude
  msg->received_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
  broker::MessagePtr ptr = std::move(msg);
  broker::Broker* b = broker_;
  if (ptr->retain) b->SetRetained(ptr);
  boost::asio::post(b->shard(0).io(), [b, ptr] { b->shard(0).Route(ptr); });
  return absl::OkStatus();
}

}  // namespace sluice::bridge
