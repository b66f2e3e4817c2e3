// Shared helpers for the bridge tests: a mock Kafka cluster, a commit log in TEST_TMPDIR, a
// bridge config pointing at the mock, record builders and checks. Test-only.
#ifndef SLUICE_TESTS_BRIDGE_BRIDGE_FIXTURE_H_
#define SLUICE_TESTS_BRIDGE_BRIDGE_FIXTURE_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bridge/mapping/config.h"
#include "mqtt/codec/codec.h"
#include "bridge/testing/mock_kafka.h"
#include "bridge/worker/mqtt_to_kafka.h"
#include "gtest/gtest.h"
#include "storage/testing/log_fixture.h"

namespace sluice::bridge::testing {

inline constexpr int64_t kWaitMs = 30'000;

class BridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = MockKafka::Start(3);
    ASSERT_TRUE(k.ok()) << k.status();
    kafka_ = *std::move(k);
    dir_ = storage::testing::TestDir();
    OpenLog();
  }
  void TearDown() override {
    bridge_.reset();
    log_.reset();
    kafka_.reset();
  }
  void OpenLog() {
    auto l = storage::PartitionedLog::Open(storage::testing::TestOptions(dir_, 4));
    ASSERT_TRUE(l.ok()) << l.status();
    log_ = *std::move(l);
  }

  // One rule: devices/+/temp → `topic`, key = MQTT topic.
  BridgeConfig Config(const std::string& topic = "telemetry") {
    auto c = ParseBridgeConfigYaml(
        "bridge:\n"
        "  kafka:\n"
        "    bootstrap_servers: \"" + kafka_->bootstrap_servers() + "\"\n"
        "  limits: {backoff_ms_min: 50, backoff_ms_max: 400, commit_interval_ms: 100,"
        " idle_poll_ms: 10, inflight_records_max: 2000}\n"
        "  mqtt_to_kafka:\n"
        "    - name: telemetry\n"
        "      filters: [\"devices/+/temp\"]\n"
        "      kafka_topic: \"" + topic + "\"\n"
        "      key: topic\n");
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }

  void StartBridge(BridgeConfig config) {
    MqttToKafkaOptions o;
    o.config = std::move(config);
    o.log = log_.get();
    auto b = MqttToKafkaBridge::Start(std::move(o));
    ASSERT_TRUE(b.ok()) << b.status();
    bridge_ = *std::move(b);
  }

  // Appends `n` records to devices/d<i % devices>/temp with payload "<device>:<seq>" (seq per
  // device, continuing across calls), and one non-matching record every 10. Returns how many
  // matching records were appended.
  int Append(int n, int devices = 8) {
    std::vector<std::future<absl::StatusOr<Offset>>> futures;
    int matching = 0;
    for (int i = 0; i < n; ++i) {
      int d = i % devices;
      storage::Record r = MakeRecord("devices/d" + std::to_string(d) + "/temp",
                                     "d" + std::to_string(d) + ":" + std::to_string(seq_[d]++));
      futures.push_back(log_->Append(log_->PartitionFor(r.topic), r));
      ++matching;
      if (i % 10 == 0) {
        storage::Record other = MakeRecord("other/x", "not bridged");
        futures.push_back(log_->Append(log_->PartitionFor(other.topic), other));
      }
    }
    for (auto& f : futures) EXPECT_TRUE(f.get().ok());
    if (bridge_) bridge_->Notify();
    return matching;
  }

  static storage::Record MakeRecord(std::string topic, std::string payload) {
    storage::Record r;
    r.topic = std::move(topic);
    r.payload = std::move(payload);
    r.qos = 1;
    r.publisher = r.topic.rfind("devices/", 0) == 0 ? "pub-" + r.topic.substr(8, 2) : "other";
    mqtt::Properties p;
    p.content_type = "text/plain";
    p.user_properties = {{"site", "berlin"}};
    r.properties = mqtt::EncodeStoredProperties(p);  // as sluiced stores them
    return r;
  }

  // Every worker has checkpointed everything the log holds now (high watermarks read from the
  // log, not from the status snapshot, which may predate the last appends).
  bool WaitCaughtUp(int64_t timeout_ms = kWaitMs) {
    std::vector<Offset> hwm;
    for (uint32_t p = 0; p < log_->partitions(); ++p) hwm.push_back(log_->Info(PartitionId(p))->high_watermark);
    bridge_->Notify();
    return bridge_->WaitForStatus(
        [&](const std::vector<WorkerStatus>& s) {
          for (const WorkerStatus& w : s) {
            if (w.checkpoint < hwm[w.partition.value()]) return false;
          }
          return !s.empty();
        },
        timeout_ms);
  }

  uint64_t Sum(uint64_t WorkerStatus::*field) const {
    uint64_t n = 0;
    for (const WorkerStatus& w : bridge_->Status()) n += w.*field;
    return n;
  }

  struct Check {
    size_t unique = 0;
    size_t duplicates = 0;
  };
  // Every expected record present (payload "dK:seq" for seq < seq_[K]), per key in order after
  // dropping duplicates (by the sluice.partition/offset headers), with key and headers right.
  Check CheckRecords(const std::vector<ConsumedRecord>& records) {
    Check c;
    std::set<std::pair<std::string, std::string>> seen;  // (partition, offset)
    std::map<std::string, int> next;                     // key → next expected seq
    for (const ConsumedRecord& r : records) {
      std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
      if (!seen.insert({h["sluice.partition"], h["sluice.offset"]}).second) {
        ++c.duplicates;
        continue;
      }
      ++c.unique;
      EXPECT_TRUE(r.key.has_value());
      const std::string& key = *r.key;
      EXPECT_EQ(h["mqtt.topic"], key);
      EXPECT_EQ(h["mqtt.qos"], "1");
      EXPECT_EQ(h["mqtt.retain"], "false");
      EXPECT_EQ(h["mqtt.publisher"], "pub-" + key.substr(8, 2));
      EXPECT_EQ(h["mqtt.content_type"], "text/plain");
      EXPECT_EQ(h["site"], "berlin");
      std::string device = key.substr(8, 2);
      std::string expect = device + ":" + std::to_string(next[device]++);
      EXPECT_EQ(r.value, expect) << "key " << key << " out of order or missing";
    }
    for (const auto& [device, n] : seq_) {
      EXPECT_EQ(next["d" + std::to_string(device)], n) << "records missing for d" << device;
    }
    return c;
  }

  std::unique_ptr<MockKafka> kafka_;
  std::string dir_;
  std::unique_ptr<storage::PartitionedLog> log_;
  std::unique_ptr<MqttToKafkaBridge> bridge_;
  std::map<int, int> seq_;
};

}  // namespace sluice::bridge::testing

#endif  // SLUICE_TESTS_BRIDGE_BRIDGE_FIXTURE_H_
