// MQTT→Kafka under faults injected into librdkafka's mock cluster: brokers down for a while,
// produce requests failing, messages timing out. Invariant every time: no record missing in
// Kafka, per key in order after dropping duplicates, and every duplicate accounted for by the
// bridge's own counter (resent_after_ack).
#include "tests/bridge/bridge_fixture.h"

namespace sluice::bridge::testing {
namespace {

class FaultTest : public BridgeTest {
 protected:
  // Records in the log not yet covered by the bridge's durable cursors.
  uint64_t LogLag() {
    uint64_t lag = 0;
    for (uint32_t p = 0; p < 4; ++p) {
      lag += log_->Info(PartitionId(p))->high_watermark.value() -
             log_->GetCursor(PartitionId(p), "bridge:telemetry")->offset.value();
    }
    return lag;
  }
};

bool AnyError(const std::vector<WorkerStatus>& s) {
  for (const WorkerStatus& w : s) {
    if (!w.last_error.empty()) return true;
  }
  return false;
}

// All brokers down while records keep arriving; librdkafka retries inside message.timeout.ms.
TEST_F(FaultTest, BrokersDownForAWhile) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  StartBridge(Config());
  int n = Append(300);
  ASSERT_TRUE(WaitCaughtUp());
  kafka_->SetAllBrokers(false);
  n += Append(500);
  // Down until the bridge has noticed (an error in its status), with records outstanding.
  EXPECT_TRUE(bridge_->WaitForStatus(AnyError, kWaitMs));
  EXPECT_GT(LogLag(), 0u);
  kafka_->SetAllBrokers(true);
  n += Append(200);
  ASSERT_TRUE(WaitCaughtUp());
  // Read the records plus every copy the bridge says it may have resent.
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n + Sum(&WorkerStatus::resent_after_ack), kWaitMs);
  ASSERT_TRUE(records.ok());
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_LE(c.duplicates, Sum(&WorkerStatus::resent_after_ack));
}

// Brokers down longer than message.timeout.ms: deliveries fail, the workers back off, rewind
// to their first unacknowledged record and produce again.
TEST_F(FaultTest, MessageTimeoutsAreRetriedNotDropped) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  BridgeConfig config = Config();
  config.kafka.properties.emplace_back("message.timeout.ms", "500");
  StartBridge(std::move(config));
  int n = Append(200);
  ASSERT_TRUE(WaitCaughtUp());
  kafka_->SetAllBrokers(false);
  n += Append(400);
  ASSERT_TRUE(bridge_->WaitForStatus(
      [](const std::vector<WorkerStatus>& s) {
        uint64_t retries = 0;
        for (const auto& w : s) retries += w.retries;
        return retries >= 2;
      },
      kWaitMs));
  EXPECT_GT(Sum(&WorkerStatus::delivery_failures), 0u);
  kafka_->SetAllBrokers(true);
  ASSERT_TRUE(WaitCaughtUp());
  // Read the records plus every copy the bridge says it may have resent.
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n + Sum(&WorkerStatus::resent_after_ack), kWaitMs);
  ASSERT_TRUE(records.ok());
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_LE(c.duplicates, Sum(&WorkerStatus::resent_after_ack));
}

// Produce requests fail: retriable errors (librdkafka retries them, idempotence keeps order and
// avoids duplicates) and then a non-retriable one (the delivery fails; the worker retries).
TEST_F(FaultTest, InjectedProduceErrors) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  StartBridge(Config());
  int n = Append(100);
  ASSERT_TRUE(WaitCaughtUp());
  kafka_->PushProduceErrors({RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
  n += Append(400);
  ASSERT_TRUE(WaitCaughtUp());
  kafka_->PushProduceErrors({RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
  n += Append(400);
  ASSERT_TRUE(WaitCaughtUp());
  EXPECT_GT(Sum(&WorkerStatus::delivery_failures), 0u);
  // Read the records plus every copy the bridge says it may have resent.
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n + Sum(&WorkerStatus::resent_after_ack), kWaitMs);
  ASSERT_TRUE(records.ok());
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_LE(c.duplicates, Sum(&WorkerStatus::resent_after_ack));
  std::cerr << "duplicates=" << c.duplicates << " resent_after_ack=" << Sum(&WorkerStatus::resent_after_ack)
            << " failures=" << Sum(&WorkerStatus::delivery_failures) << "\n";
}

// A stop while Kafka is down: nothing unacknowledged is checkpointed; after the restart (same
// storage directory) everything arrives.
TEST_F(FaultTest, StopWhileKafkaDownThenRestart) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  BridgeConfig config = Config();
  config.limits.stop_timeout_ms = 200;
  StartBridge(config);
  int n = Append(200);
  ASSERT_TRUE(WaitCaughtUp());
  kafka_->SetAllBrokers(false);
  n += Append(300);
  EXPECT_TRUE(bridge_->WaitForStatus(AnyError, kWaitMs));
  bridge_.reset();
  EXPECT_GT(LogLag(), 0u);  // the unacknowledged records are still owed
  log_.reset();
  OpenLog();
  kafka_->SetAllBrokers(true);
  StartBridge(config);
  ASSERT_TRUE(WaitCaughtUp());
  // Records the first bridge had in flight at the stop may have reached Kafka unacknowledged:
  // read until every record is there (duplicates are counted, not bounded, in this case).
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n, kWaitMs);
  ASSERT_TRUE(records.ok());
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  std::cerr << "duplicates after stop while down=" << c.duplicates << "\n";
}

}  // namespace
}  // namespace sluice::bridge::testing
