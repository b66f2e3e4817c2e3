// Reads the MQTT 5 properties the bridge forwards (content type, user properties, payload format
// indicator, response topic, correlation data, message expiry) out of a log record's
// `properties` (storage/log/record.h). The broker (broker/server/durable.cc Durable::ToRecord)
// stores them as a minimal MQTT 5 PUBLISH frame, so its codec validates what comes back from
// disk: 0x30, remaining length, topic "p", property length, the property block, no payload.
// A bare property block (no frame, no length prefix) is accepted too: no property id is 0x30,
// so the first byte tells them apart. Pure, thread-safe. Unknown or malformed blocks are
// DataLoss: the log only holds what the broker encoded, so that means corruption or a codec
// mismatch.
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

absl::StatusOr<ForwardedProperties> DecodeForwardedProperties(std::string_view stored);

// The inverse for the properties above, as a bare property block (tests).
std::string EncodeForwardedProperties(const ForwardedProperties& p);
// The same inside the broker's PUBLISH frame: what a record written by sluiced holds (tests).
std::string EncodeForwardedPropertiesAsBroker(const ForwardedProperties& p);

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MAPPING_MQTT_PROPERTIES_H_
