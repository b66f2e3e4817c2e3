// The librdkafka error edge: rd_kafka_resp_err_t → absl::Status. Nothing outside bridge/kafka
// sees a librdkafka type. Thread-safe.
#ifndef SLUICE_BRIDGE_KAFKA_ERRORS_H_
#define SLUICE_BRIDGE_KAFKA_ERRORS_H_

#include <string_view>

#include <librdkafka/rdkafka.h>

#include "absl/status/status.h"

namespace sluice::bridge::kafka {

// OK for RD_KAFKA_RESP_ERR_NO_ERROR. Otherwise a code chosen for what the caller can do:
//   Unavailable        broker/transport/leader problems, not enough replicas (retry later)
//   DeadlineExceeded   message or request timed out (outcome unknown: it may be in Kafka)
//   ResourceExhausted  the local producer queue is full (wait for delivery reports)
//   InvalidArgument    record too large, invalid topic or record (retrying will not help)
//   NotFound           unknown topic or partition
//   PermissionDenied   authorization/authentication failures
//   Cancelled          purged or the handle is being destroyed
//   Internal           fatal idempotent-producer error (the handle must be recreated)
//   Unknown            anything else
// The message is "<context>: <error name>: <description>".
absl::Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context);

}  // namespace sluice::bridge::kafka

#endif  // SLUICE_BRIDGE_KAFKA_ERRORS_H_
