// Test support: librdkafka's built-in mock Kafka cluster, listening on 127.0.0.1, so the bridge
// (and kcat) connect to it exactly as to a real cluster through bootstrap.servers; plus a plain
// reader that fetches every record of a topic. Test-only; thread-compatible.
#ifndef SLUICE_BRIDGE_TESTING_MOCK_KAFKA_H_
#define SLUICE_BRIDGE_TESTING_MOCK_KAFKA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "absl/status/statusor.h"
#include "bridge/mapping/rules.h"

namespace sluice::bridge::testing {

class MockKafka {
 public:
  // A cluster of `brokers` brokers (ids 1..brokers).
  static absl::StatusOr<std::unique_ptr<MockKafka>> Start(int brokers = 3);
  ~MockKafka();

  const std::string& bootstrap_servers() const { return bootstrap_; }
  absl::Status CreateTopic(const std::string& topic, int partitions, int replication = 3);
  void SetBrokerDown(int32_t broker_id);
  void SetBrokerUp(int32_t broker_id);
  void SetAllBrokers(bool up);
  // The next `errors.size()` Produce requests (to any broker) fail with these codes.
  void PushProduceErrors(const std::vector<rd_kafka_resp_err_t>& errors);
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

 private:
  MockKafka() = default;
  rd_kafka_t* owner_ = nullptr;  // the handle the mock cluster belongs to
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_ = 0;
  std::string bootstrap_;
};

// Reads every partition of `topic` from the beginning (no consumer group) until `count` records
// arrived or `timeout_ms` passed; records are in Kafka order per partition.
absl::StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& bootstrap,
                                                      const std::string& topic, size_t count,
                                                      int64_t timeout_ms);

// Produces records with a plain (non-bridge) producer and waits for their delivery.
absl::Status ProduceRecords(const std::string& bootstrap, const std::vector<KafkaRecord>& records);

}  // namespace sluice::bridge::testing

#endif  // SLUICE_BRIDGE_TESTING_MOCK_KAFKA_H_
