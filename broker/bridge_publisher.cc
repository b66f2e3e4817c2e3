#include "broker/bridge_publisher.h"

#include <chrono>
#include <future>
#include <memory>

#include "broker/server/broker.h"
#include "broker/server/durable.h"

namespace sluice::broker {

absl::Status BrokerPublisher::Publish(const bridge::MqttMessage& m) {
  if (broker_->shard_count() == 0) return absl::UnavailableError("broker has no shards");
  auto msg = std::make_shared<Message>();
  msg->topic = m.topic;
  msg->payload = m.payload;
  msg->qos = m.qos;
  msg->retain = m.retain;
  msg->properties.content_type = m.content_type;
  msg->properties.user_properties = m.user_properties;
  msg->publisher = "";  // broker-originated: no client for no-local to exclude
  if (!broker_->StoresBeforeRouting(*msg)) {
    broker_->InjectPublish(std::move(msg));
    return absl::OkStatus();
  }
  // The promise is shared with the callback: after a timeout it may still run (or never).
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  broker_->InjectPublish(std::move(msg), [done](absl::Status s) { done->set_value(std::move(s)); });
  if (result.wait_for(std::chrono::milliseconds(timeout_ms_)) != std::future_status::ready)
    return absl::DeadlineExceededError("the broker did not store the message within " +
                                       std::to_string(timeout_ms_) + " ms");
  return result.get();
}

}  // namespace sluice::broker
