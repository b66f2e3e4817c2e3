#include "broker/bridge_host.h"

#include "base/log.h"
#include "broker/bridge_publisher.h"
#include "bridge/mqtt/kafka_to_mqtt.h"
#include "bridge/worker/mqtt_to_kafka.h"
#include "broker/server/broker.h"

namespace sluice::broker {

BridgeHost::BridgeHost(Broker* broker, bridge::BridgeConfig config)
    : broker_(broker), config_(std::move(config)) {
  if (config_.mqtt_to_kafka.empty()) return;
  // Called on a shard thread after every stored record is routed: one atomic load and, with
  // the bridge running, a write to its wake pipe (cheap when already signalled).
  broker_->SetStoredListener([this](uint32_t, int64_t) {
    if (bridge::MqttToKafkaBridge* b = notify_.load(std::memory_order_acquire)) b->Notify();
  });
}

BridgeHost::~BridgeHost() { Stop(); }

absl::Status BridgeHost::Start() {
  if (!configured()) return absl::OkStatus();
  if (broker_->durable() == nullptr)
    return absl::FailedPreconditionError("the Kafka bridge needs the broker's commit log");
  if (!config_.mqtt_to_kafka.empty()) {
    bridge::MqttToKafkaOptions options;
    options.config = config_;
    options.log = &broker_->durable()->log();
    auto b = bridge::MqttToKafkaBridge::Start(std::move(options));
    if (!b.ok()) return absl::Status(b.status().code(), "kafka bridge (mqtt_to_kafka): " +
                                                            std::string(b.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    to_kafka_ = *std::move(b);
    notify_.store(to_kafka_.get(), std::memory_order_release);
    to_kafka_->Notify();  // records stored before the listener could reach it
  }
  if (!config_.kafka_to_mqtt.empty()) {
    publisher_ = std::make_unique<BrokerPublisher>(broker_);
    auto b = bridge::KafkaToMqttBridge::Start(config_, publisher_.get());
    if (!b.ok()) {
      Stop();
      return absl::Status(b.status().code(),
                          "kafka bridge (kafka_to_mqtt): " + std::string(b.status().message()));
    }
    std::lock_guard<std::mutex> lock(mu_);
    to_mqtt_ = *std::move(b);
  }
  SLOG(kInfo).Kv("mqtt_to_kafka_rules", config_.mqtt_to_kafka.size())
          .Kv("kafka_to_mqtt_rules", config_.kafka_to_mqtt.size())
          .Kv("bootstrap_servers", config_.kafka.bootstrap_servers)
      << "kafka bridge started";
  return absl::OkStatus();
}

void BridgeHost::Stop() {
  // Stop() on the bridges is idempotent and leaves them readable (Status), so they are kept
  // until the host is destroyed.
  if (to_mqtt_) to_mqtt_->Stop();
  if (to_kafka_) to_kafka_->Stop();
}

bridge::BridgeStatusReport BridgeHost::Status() const {
  bridge::BridgeStatusReport r;
  std::lock_guard<std::mutex> lock(mu_);
  if (to_kafka_) r.mqtt_to_kafka = to_kafka_->Status();
  if (to_mqtt_) r.kafka_to_mqtt = to_mqtt_->Status();
  return r;
}

absl::Status BridgeHost::SetPaused(const std::string& rule, bool paused) {
  if (!configured()) return absl::FailedPreconditionError("no Kafka bridge is configured");
  bool in_to_kafka = false, in_to_mqtt = false;
  std::string names;
  for (const auto& r : config_.mqtt_to_kafka) {
    in_to_kafka |= r.name == rule;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  for (const auto& r : config_.kafka_to_mqtt) {
    in_to_mqtt |= r.name == rule;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  if (!rule.empty() && !in_to_kafka && !in_to_mqtt)
    return absl::NotFoundError("no bridge rule named '" + rule + "' (rules: " + names + ")");
  bridge::MqttToKafkaBridge* to_kafka;
  bridge::KafkaToMqttBridge* to_mqtt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    to_kafka = to_kafka_.get();
    to_mqtt = to_mqtt_.get();
  }
  if (to_kafka != nullptr && (rule.empty() || in_to_kafka)) {
    absl::Status s = to_kafka->SetPaused(rule, paused);
    if (!s.ok()) return s;
  }
  if (to_mqtt != nullptr && (rule.empty() || in_to_mqtt)) {
    absl::Status s = to_mqtt->SetPaused(rule, paused);
    if (!s.ok()) return s;
  }
  SLOG(kInfo).Kv("rule", rule.empty() ? "*" : rule)
      << (paused ? "kafka bridge paused by administrator" : "kafka bridge resumed by administrator");
  return absl::OkStatus();
}

}  // namespace sluice::broker
