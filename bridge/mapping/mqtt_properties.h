// Reads the MQTT 5 properties the bridge forwards (content type, user properties, payload format
// indicator, response topic, correlation data, message expiry) out of the property block a log
// record stores (storage/log/record.h: the block as the broker's codec writes it, without its
// length prefix). Pure, thread-safe. Unknown or malformed blocks are DataLoss: the log only holds
// what the broker encoded, so that means corruption or a codec mismatch.
#ifndef SLUICE_BRIDGE_MAPPING_MQTT_PROPERTIES_H_
#define SLUICE_BRIDGE_MAPPING_MQTT_PROPERTIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::bridge {

struct ForwardedProperties {
  std::optional<uint8_t> payload_format_indicator;  // 0x01
  std::optional<uint32_t> message_expiry_interval;  // 0x02
  std::optional<std::string> content_type;          // 0x03
  std::optional<std::string> response_topic;        // 0x08
  std::optional<std::string> correlation_data;      // 0x09
  std::vector<std::pair<std::string, std::string>> user_properties;  // 0x26, order kept

  bool operator==(const ForwardedProperties&) const = default;
};

absl::StatusOr<ForwardedProperties> DecodeForwardedProperties(std::string_view block);

// The inverse for the properties above, in the same wire format (used by tests and by the
// Kafka→MQTT side when it builds a record-like message).
std::string EncodeForwardedProperties(const ForwardedProperties& p);

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MAPPING_MQTT_PROPERTIES_H_
