// KafkaProducer: the librdkafka producer edge of the MQTT→Kafka bridge.
//
// Always idempotent: enable.idempotence=true (which implies acks=all, retries without limit
// within message.timeout.ms, and max.in.flight.requests.per.connection <= 5 with ordering kept
// across retries: the broker rejects out-of-sequence batches and librdkafka resends in order).
// So records produced in order to one Kafka partition are written in that order, without
// duplicates from internal retries. Those settings cannot be overridden by extra properties
// (Create returns InvalidArgument). Defaults the caller may override: linger.ms=5,
// partitioner=murmur2_random (the Java client's: same key → same partition as Java producers),
// message.timeout.ms=300000.
//
// Thread-safety: Produce, Poll and the callbacks run on ONE owner thread (the callbacks run
// inside Poll). OutQueueLength is thread-safe. Destroying the producer does not wait for
// outstanding records: they are purged without delivery reports (the bridge re-reads them from
// the log after a restart).
#ifndef SLUICE_BRIDGE_KAFKA_PRODUCER_H_
#define SLUICE_BRIDGE_KAFKA_PRODUCER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/mapping/config.h"
#include "bridge/mapping/rules.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace sluice::bridge::kafka {

class KafkaProducer {
 public:
  // Called once per produced record with the token given to Produce: OK when Kafka
  // acknowledged it (acks=all), else the error (kafka/errors.h).
  using DeliveryFn = std::function<void(uint64_t token, absl::Status status)>;
  // Client-level errors (all brokers down, authentication, ...): informational, librdkafka keeps
  // retrying; fatal == true means the idempotent producer is unusable and must be recreated.
  using ErrorFn = std::function<void(absl::Status status, bool fatal)>;

  // `wake_fd` >= 0: librdkafka writes one byte to it whenever delivery reports or errors become
  // pending, so the owner can sleep in poll(2) on it. Errors: InvalidArgument (bad property).
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(const KafkaClientConfig& config,
                                                              DeliveryFn on_delivery,
                                                              ErrorFn on_error, int wake_fd = -1);
  ~KafkaProducer();

  // Queues one record. ResourceExhausted when the local queue is full (serve delivery reports
  // and retry); other errors from librdkafka's argument checks (InvalidArgument, Internal when
  // fatal). No delivery report follows an error.
  absl::Status Produce(const KafkaRecord& record, uint64_t token);
  // Serves pending delivery reports and errors, waiting up to timeout_ms for the first.
  int Poll(int timeout_ms);
  // Records queued or in flight.
  int OutQueueLength() const;
  // OK, or the fatal error that makes this producer unusable.
  absl::Status FatalError() const;
  // Fails every queued and in-flight record with Cancelled (their delivery reports follow in
  // Poll). Used before recreating a producer after a fatal error.
  void PurgeAll();

 private:
  KafkaProducer() = default;
  static void OnDeliveryReport(rd_kafka_t* rk, const void* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  rd_kafka_t* rk_ = nullptr;
  DeliveryFn on_delivery_;
  ErrorFn on_error_;
};

}  // namespace sluice::bridge::kafka

#endif  // SLUICE_BRIDGE_KAFKA_PRODUCER_H_
