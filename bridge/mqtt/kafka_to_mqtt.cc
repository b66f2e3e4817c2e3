#include "bridge/mqtt/kafka_to_mqtt.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "bridge/kafka/consumer.h"

namespace sluice::bridge {

struct KafkaToMqttBridge::RuleRunner {
  const KafkaToMqttRule* rule;
  std::unique_ptr<kafka::KafkaConsumer> consumer;
  std::thread thread;
  ConsumerRuleStatus status;  // guarded by status_mu_
  std::atomic<bool> pause_requested{false};
  bool paused = false;  // applied (runner thread)
};

absl::StatusOr<std::unique_ptr<KafkaToMqttBridge>> KafkaToMqttBridge::Start(const BridgeConfig& config,
                                                                            MqttPublisher* publisher) {
  std::unique_ptr<KafkaToMqttBridge> b(new KafkaToMqttBridge());
  b->config_ = config;
  b->publisher_ = publisher;
  for (const KafkaToMqttRule& rule : b->config_.kafka_to_mqtt) {
    auto r = std::make_unique<RuleRunner>();
    r->rule = &rule;
    r->status.rule = rule.name;
    auto c = kafka::KafkaConsumer::Create(
        {b->config_.kafka, rule.group_id, rule.kafka_topics, rule.start_from});
    if (!c.ok()) return c.status();
    r->consumer = *std::move(c);
    b->runners_.push_back(std::move(r));
  }
  for (auto& r : b->runners_) {
    RuleRunner* runner = r.get();
    KafkaToMqttBridge* self = b.get();
    r->thread = std::thread([self, runner] { self->Run(runner); });
  }
  return b;
}

KafkaToMqttBridge::~KafkaToMqttBridge() { Stop(); }

void KafkaToMqttBridge::Stop() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    if (stop_.exchange(true)) return;
  }
  stop_cv_.notify_all();
  {
    std::lock_guard<std::mutex> l(status_mu_);  // wakes SetPaused callers
  }
  status_cv_.notify_all();
  for (auto& r : runners_) {
    if (r->thread.joinable()) r->thread.join();
    r->consumer->Close();
  }
}

bool KafkaToMqttBridge::SleepUnlessStopped(int64_t ms) {
  std::unique_lock<std::mutex> l(stop_mu_);
  return !stop_cv_.wait_for(l, std::chrono::milliseconds(ms), [&] { return stop_.load(); });
}

absl::Status KafkaToMqttBridge::SetPaused(const std::string& rule, bool paused, int64_t timeout_ms) {
  std::vector<RuleRunner*> targets;
  for (auto& r : runners_)
    if (rule.empty() || r->rule->name == rule) targets.push_back(r.get());
  if (!rule.empty() && targets.empty())
    return absl::NotFoundError("no kafka_to_mqtt rule named '" + rule + "'");
  if (stop_.load()) return absl::FailedPreconditionError("the kafka->mqtt bridge is stopped");
  for (RuleRunner* r : targets) r->pause_requested = paused;
  std::unique_lock<std::mutex> l(status_mu_);
  bool done = status_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] {
    if (stop_.load()) return true;
    for (RuleRunner* r : targets)
      if (r->status.paused != paused) return false;
    return true;
  });
  if (!done) return absl::DeadlineExceededError("the kafka->mqtt bridge did not apply the change in time");
  return absl::OkStatus();
}

void KafkaToMqttBridge::Run(RuleRunner* r) {
  const BridgeLimits& limits = config_.limits;
  while (!stop_.load()) {
    const bool pause = r->pause_requested.load();
    if (pause != r->paused) {
      absl::Status s = pause ? r->consumer->PauseAssigned() : r->consumer->ResumeAssigned();
      if (!s.ok()) SLOG(kWarn) << "kafka->mqtt " << (pause ? "pause" : "resume") << ": " << s.message();
      r->paused = pause;
      SLOG(kInfo) << "kafka->mqtt bridge " << (pause ? "paused" : "resumed") << " rule=" << r->rule->name;
      {
        std::lock_guard<std::mutex> l(status_mu_);
        r->status.paused = pause;
      }
      status_cv_.notify_all();
    } else if (r->paused) {
      (void)r->consumer->PauseAssigned();  // partitions a rebalance assigned since
    }
    absl::StatusOr<std::optional<ConsumedRecord>> rec = r->consumer->Poll(100);
    if (!rec.ok()) {
      std::lock_guard<std::mutex> l(status_mu_);
      ++r->status.consumer_errors;
      r->status.last_error = rec.status().ToString();
      continue;  // librdkafka recovers by itself; Poll bounds the loop
    }
    if (!rec->has_value()) continue;
    const ConsumedRecord& record = **rec;
    if (r->paused) {
      // Fetched before its partition was paused (or newly assigned): fetch it again later.
      absl::Status s = r->consumer->Rewind(record);
      if (!s.ok()) SLOG(kWarn) << "kafka->mqtt rewind while paused: " << s.message();
      continue;
    }
    {
      std::lock_guard<std::mutex> l(status_mu_);
      ++r->status.consumed;
    }
    absl::StatusOr<MqttMessage> msg = MapToMqtt(*r->rule, record);
    if (!msg.ok()) {
      std::lock_guard<std::mutex> l(status_mu_);
      ++r->status.skipped_unmappable;
      r->status.last_error = msg.status().ToString();
    } else {
      int64_t backoff_ms = 0;
      while (true) {
        absl::Status s = publisher_->Publish(*msg);
        if (s.ok()) {
          std::lock_guard<std::mutex> l(status_mu_);
          ++r->status.published;
          break;
        }
        {
          std::lock_guard<std::mutex> l(status_mu_);
          ++r->status.publish_failures;
          r->status.last_error = s.ToString();
        }
        backoff_ms = backoff_ms == 0 ? limits.backoff_ms_min : std::min(backoff_ms * 2, limits.backoff_ms_max);
        // Stopping abandons this record un-stored: the group re-delivers it next time.
        if (!SleepUnlessStopped(backoff_ms)) return;
      }
    }
    absl::Status s = r->consumer->StoreOffset(record);
    if (!s.ok()) SLOG(kWarn) << "kafka->mqtt store offset: " << s.message();
  }
}

std::vector<ConsumerRuleStatus> KafkaToMqttBridge::Status() const {
  std::lock_guard<std::mutex> l(status_mu_);
  std::vector<ConsumerRuleStatus> out;
  for (const auto& r : runners_) out.push_back(r->status);
  return out;
}

}  // namespace sluice::bridge
