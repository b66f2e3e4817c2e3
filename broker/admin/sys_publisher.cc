#include "broker/admin/sys_publisher.h"

#include "base/log.h"

namespace sluice::admin {

SysPublisher::SysPublisher(broker::Broker* broker, std::string version,
                           std::chrono::seconds interval)
    : broker_(broker), version_(std::move(version)), interval_(interval) {}

SysPublisher::~SysPublisher() { Stop(); }

void SysPublisher::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      PublishOnce();
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  });
}

void SysPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::pair<std::string, std::string>> SysPublisher::Snapshot() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const char* topic, uint64_t value) {
    out.emplace_back(std::string("$SYS/broker/") + topic, std::to_string(value));
  };
  broker::StatsSnapshot stats = broker_->Stats();
  uint64_t bytes_in = 0, bytes_out = 0;
  for (uint32_t i = 0; i < broker_->shard_count(); ++i) {
    bytes_in += broker_->shard(i).stats().bytes_received.load(std::memory_order_relaxed);
    bytes_out += broker_->shard(i).stats().bytes_sent.load(std::memory_order_relaxed);
  }
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - started_).count();
  out.emplace_back("$SYS/broker/version", "sluice " + version_);
  out.emplace_back("$SYS/broker/uptime", std::to_string(uptime) + " seconds");
  clients_maximum_ = std::max(clients_maximum_, stats.connections_current);
  add("clients/connected", stats.connections_current);
  add("clients/maximum", clients_maximum_);
  auto gauges = broker_->CollectGauges();
  if (gauges.ok()) {
    add("clients/total", gauges->sessions);
    add("clients/disconnected", gauges->sessions - gauges->sessions_connected);
    add("messages/inflight", gauges->inflight);
    add("messages/queued", gauges->queued);
    add("subscriptions/count", gauges->subscriptions);
  }
  add("messages/received", stats.messages_received);
  add("messages/sent", stats.messages_delivered);
  add("messages/dropped", stats.messages_dropped);
  add("publish/messages/received", stats.messages_received);
  add("publish/messages/sent", stats.messages_delivered);
  add("publish/messages/dropped", stats.messages_dropped);
  add("retained messages/count", stats.retained);
  add("bytes/received", bytes_in);
  add("bytes/sent", bytes_out);
  return out;
}

void SysPublisher::PublishOnce() {
  // Like Mosquitto, only values that changed are published again (they are retained).
  for (auto& [topic, value] : Snapshot()) {
    auto it = last_.find(topic);
    if (it != last_.end() && it->second == value) continue;
    last_[topic] = value;
    broker_->PublishRetainedFromBroker(topic, value);
  }
}

}  // namespace sluice::admin
