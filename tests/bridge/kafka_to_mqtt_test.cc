// Kafka→MQTT: records in the mock cluster → consumer group → fake MqttPublisher; and the full
// round trip commit log → MQTT→Kafka bridge → Kafka → Kafka→MQTT bridge → publisher.
#include "bridge/mqtt/kafka_to_mqtt.h"

#include <condition_variable>
#include <mutex>
#include <set>

#include "tests/bridge/bridge_fixture.h"

namespace sluice::bridge::testing {
namespace {

class FakePublisher : public MqttPublisher {
 public:
  absl::Status Publish(const MqttMessage& m) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      return absl::UnavailableError("fake: broker busy");
    }
    messages_.push_back(m);
    cv_.notify_all();
    return absl::OkStatus();
  }
  bool WaitFor(size_t n, int64_t timeout_ms) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return messages_.size() >= n; });
  }
  std::vector<MqttMessage> messages() {
    std::lock_guard<std::mutex> l(mu_);
    return messages_;
  }
  void FailNext(int n) {
    std::lock_guard<std::mutex> l(mu_);
    fail_next_ = n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<MqttMessage> messages_;
  int fail_next_ = 0;
};

BridgeConfig ConsumerConfig(const std::string& bootstrap, const std::string& topic,
                            const std::string& mqtt_topic) {
  auto c = ParseBridgeConfigYaml(
      "bridge:\n"
      "  kafka:\n"
      "    bootstrap_servers: \"" + bootstrap + "\"\n"
      "    properties: {session.timeout.ms: '6000', heartbeat.interval.ms: '500'}\n"
      "  limits: {backoff_ms_min: 20, backoff_ms_max: 100}\n"
      "  kafka_to_mqtt:\n"
      "    - name: commands\n"
      "      kafka_topics: [" + topic + "]\n"
      "      mqtt_topic: \"" + mqtt_topic + "\"\n"
      "      qos: 1\n"
      "      retain: true\n");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST_F(BridgeTest, KafkaRecordsRepublishedAtLeastOnceAndResumeFromCommittedOffsets) {
  ASSERT_TRUE(kafka_->CreateTopic("commands", 2).ok());
  std::vector<KafkaRecord> records;
  for (int i = 0; i < 40; ++i) {
    KafkaRecord r;
    r.topic = "commands";
    r.key = "dev-" + std::to_string(i % 4);
    r.value = "cmd-" + std::to_string(i);
    r.headers = {{"mqtt.content_type", "text/plain"}, {"trace", std::to_string(i)}};
    records.push_back(r);
  }
  ASSERT_TRUE(ProduceRecords(kafka_->bootstrap_servers(), records).ok());
  FakePublisher publisher;
  publisher.FailNext(3);  // retried with backoff, not lost
  BridgeConfig config = ConsumerConfig(kafka_->bootstrap_servers(), "commands", "cmd/{key}");
  auto b = KafkaToMqttBridge::Start(config, &publisher);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(publisher.WaitFor(40, kWaitMs));
  std::map<std::string, int> last;  // per key: increasing command numbers (one Kafka partition)
  for (const MqttMessage& m : publisher.messages()) {
    EXPECT_EQ(m.topic.substr(0, 8), "cmd/dev-");
    EXPECT_EQ(m.qos, 1);
    EXPECT_TRUE(m.retain);
    EXPECT_EQ(m.content_type.value_or(""), "text/plain");
    ASSERT_EQ(m.user_properties.size(), 1u);
    EXPECT_EQ("cmd-" + m.user_properties[0].second, m.payload);
    int i = std::stoi(m.payload.substr(4));
    EXPECT_EQ("cmd/dev-" + std::to_string(i % 4), m.topic);
    auto it = last.find(m.topic);
    if (it != last.end()) {
      EXPECT_GT(i, it->second);
    }
    last[m.topic] = i;
  }
  EXPECT_EQ(publisher.messages().size(), 40u);
  EXPECT_EQ((*b)->Status()[0].publish_failures, 3u);
  (*b)->Stop();  // commits the offsets

  // Restart with the same group: only the new records arrive.
  for (auto& r : records) r.value = "new-" + r.value.substr(4);
  records.resize(6);
  ASSERT_TRUE(ProduceRecords(kafka_->bootstrap_servers(), records).ok());
  FakePublisher second;
  auto b2 = KafkaToMqttBridge::Start(config, &second);
  ASSERT_TRUE(b2.ok());
  ASSERT_TRUE(second.WaitFor(6, kWaitMs));
  (*b2)->Stop();
  for (const MqttMessage& m : second.messages()) EXPECT_EQ(m.payload.substr(0, 4), "new-") << m.payload;
  EXPECT_EQ(second.messages().size(), 6u);
}

// A paused kafka_to_mqtt rule publishes nothing (its consumer stays in the group); resumed,
// it publishes the records that arrived meanwhile, each once.
TEST_F(BridgeTest, PausedConsumerPublishesNothingUntilResumed) {
  ASSERT_TRUE(kafka_->CreateTopic("commands", 2).ok());
  auto records = [](const std::string& prefix, int n) {
    std::vector<KafkaRecord> out;
    for (int i = 0; i < n; ++i) {
      KafkaRecord r;
      r.topic = "commands";
      r.key = "dev-" + std::to_string(i % 4);
      r.value = prefix + std::to_string(i);
      out.push_back(r);
    }
    return out;
  };
  ASSERT_TRUE(ProduceRecords(kafka_->bootstrap_servers(), records("a-", 10)).ok());
  FakePublisher publisher;
  BridgeConfig config = ConsumerConfig(kafka_->bootstrap_servers(), "commands", "cmd/{key}");
  auto b = KafkaToMqttBridge::Start(config, &publisher);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(publisher.WaitFor(10, kWaitMs));
  EXPECT_EQ((*b)->SetPaused("nope", true).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*b)->SetPaused("commands", true).ok());
  EXPECT_TRUE((*b)->Status()[0].paused);
  ASSERT_TRUE(ProduceRecords(kafka_->bootstrap_servers(), records("b-", 10)).ok());
  EXPECT_FALSE(publisher.WaitFor(11, 1500)) << "a paused rule published";
  ASSERT_TRUE((*b)->SetPaused("", false).ok());
  EXPECT_FALSE((*b)->Status()[0].paused);
  ASSERT_TRUE(publisher.WaitFor(20, kWaitMs));
  EXPECT_FALSE(publisher.WaitFor(21, 500)) << "a record was published twice";
  std::set<std::string> payloads;
  for (const MqttMessage& m : publisher.messages()) payloads.insert(m.payload);
  EXPECT_EQ(payloads.size(), 20u);
  (*b)->Stop();
}

TEST_F(BridgeTest, RoundTripLogToKafkaToMqtt) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  StartBridge(Config());
  int n = Append(200);
  FakePublisher publisher;
  BridgeConfig config = ConsumerConfig(kafka_->bootstrap_servers(), "telemetry", "from-kafka/{key}");
  auto back = KafkaToMqttBridge::Start(config, &publisher);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(publisher.WaitFor(n, kWaitMs));
  std::map<std::string, int> next;
  for (const MqttMessage& m : publisher.messages()) {
    ASSERT_EQ(m.topic.substr(0, 19), "from-kafka/devices/");
    std::string device = m.topic.substr(19, 2);
    EXPECT_EQ(m.payload, device + ":" + std::to_string(next[device]++));  // per topic in order
    EXPECT_EQ(m.content_type.value_or(""), "text/plain");                  // mqtt.content_type
    EXPECT_EQ(m.user_properties, (Headers{{"site", "berlin"}}));            // mqtt.*/sluice.* dropped
  }
  EXPECT_EQ(publisher.messages().size(), static_cast<size_t>(n));
}

}  // namespace
}  // namespace sluice::bridge::testing
