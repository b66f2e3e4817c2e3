// KafkaConsumer: the librdkafka consumer edge of the Kafka→MQTT bridge. A member of a consumer
// group (group.id) subscribed to a list of topics. Offsets: enable.auto.offset.store=false, so
// only what the owner StoreOffset()s after handling it is committed (auto-commit every
// auto.commit.interval.ms, plus Commit() on demand and at Close): at-least-once — a crash
// re-delivers what was handled after the last commit.
//
// Thread-safety: one owner thread for every method. Errors are absl::Status (kafka/errors.h).
#ifndef SLUICE_BRIDGE_KAFKA_CONSUMER_H_
#define SLUICE_BRIDGE_KAFKA_CONSUMER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/mapping/config.h"
#include "bridge/mapping/rules.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace sluice::bridge::kafka {

struct ConsumerOptions {
  KafkaClientConfig client;
  std::string group_id;
  std::vector<std::string> topics;
  StartFrom start_from = StartFrom::kEarliest;  // auto.offset.reset
};

class KafkaConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(const ConsumerOptions& options);
  ~KafkaConsumer();  // Close()s if not closed

  // The next record, waiting up to timeout_ms; nullopt if none came. Consumer-level errors
  // (e.g. transport) are returned as a status; end-of-partition events are skipped.
  absl::StatusOr<std::optional<ConsumedRecord>> Poll(int timeout_ms);
  // Marks `record` handled: its offset + 1 is committed with the next commit.
  absl::Status StoreOffset(const ConsumedRecord& record);
  // Commits the stored offsets now (synchronously). OK if there was nothing to commit.
  absl::Status Commit();
  // Commits, leaves the group. Idempotent.
  void Close();

  // Pauses (resumes) fetching from every partition assigned now; the consumer stays in its
  // group. Partitions assigned later (a rebalance) start unpaused: call again after polling.
  absl::Status PauseAssigned();
  absl::Status ResumeAssigned();
  // Moves `record`'s partition back so that `record` is the next one fetched from it (for a
  // record that arrived although the partition was being paused).
  absl::Status Rewind(const ConsumedRecord& record);

 private:
  KafkaConsumer() = default;
  rd_kafka_t* rk_ = nullptr;
  bool closed_ = false;
};

}  // namespace sluice::bridge::kafka

#endif  // SLUICE_BRIDGE_KAFKA_CONSUMER_H_
