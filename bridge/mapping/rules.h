// Bridge mapping rules: which MQTT records go to which Kafka topic with which key and headers,
// and which Kafka records come back to which MQTT topic. Pure (no librdkafka, no I/O);
// thread-safe once built (const use only).
//
// Templates. A template is text with placeholders in braces; "{{" and "}}" are literal braces.
//   MQTT → Kafka topic:  {N}  the MQTT topic level N, counted from 0 ("devices/d7/temp": {0} =
//                             "devices", {1} = "d7"), {topic} the whole MQTT topic with '/'
//                             replaced by '.', {publisher} the sender's client id.
//     The result is made a legal Kafka topic name: every character outside [A-Za-z0-9._-]
//     becomes '_'; an empty result or one over 249 characters is an error (record skipped,
//     counted). Config validation guarantees that level N exists in every topic a rule's
//     filters match (levels before a '#').
//   Kafka → MQTT topic:  {topic} the Kafka topic, {key} the record key (must be present and
//                             valid in an MQTT topic: no '+', '#', NUL), {partition}.
#ifndef SLUICE_BRIDGE_MAPPING_RULES_H_
#define SLUICE_BRIDGE_MAPPING_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "mqtt/codec/packets.h"
#include "storage/log/record.h"

namespace sluice::bridge {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A record to produce to Kafka; librdkafka-free.
struct KafkaRecord {
  std::string topic;
  std::optional<std::string> key;  // nullopt: no key (Kafka spreads the records)
  std::string value;
  Headers headers;
  int64_t timestamp_ms = 0;  // 0: Kafka sets it
};

// A record consumed from Kafka.
struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  Headers headers;
  int64_t timestamp_ms = 0;
};

// An MQTT message to publish into the broker.
struct MqttMessage {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  std::optional<std::string> content_type;
  Headers user_properties;
};

class Template {
 public:
  enum class Kind { kKafkaTopic, kMqttTopic };
  // InvalidArgument on an unknown placeholder, an unbalanced brace or an empty template.
  static absl::StatusOr<Template> Parse(std::string_view text, Kind kind);

  // MQTT → Kafka. `levels` are the MQTT topic's levels.
  absl::StatusOr<std::string> RenderKafkaTopic(std::string_view mqtt_topic,
                                               std::string_view publisher) const;
  // Kafka → MQTT.
  absl::StatusOr<std::string> RenderMqttTopic(const ConsumedRecord& record) const;

  // The highest level placeholder used, -1 if none.
  int max_level() const { return max_level_; }
  const std::string& text() const { return text_; }

 private:
  enum class Part { kText, kLevel, kTopic, kPublisher, kKey, kPartition };
  struct Piece {
    Part part;
    std::string text;
    int level = 0;
  };
  std::string text_;
  std::vector<Piece> pieces_;
  int max_level_ = -1;
};

enum class KeySource { kNone, kTopic, kPublisher, kLevel };
struct KeySpec {
  KeySource source = KeySource::kTopic;
  int level = 0;  // kLevel: 0-based
};
// "none", "topic", "publisher", "level:N".
absl::StatusOr<KeySpec> ParseKeySpec(std::string_view text);

enum class StartFrom { kEarliest, kLatest };

struct MqttToKafkaRule {
  std::string name;                  // [A-Za-z0-9_.-]+, unique; names the cursors
  std::vector<std::string> filters;  // MQTT topic filters
  Template kafka_topic;
  KeySpec key;
  bool mqtt_headers = true;           // mqtt.* headers and user properties
  std::string user_property_prefix;   // header name = prefix + user property name
  StartFrom start_from = StartFrom::kEarliest;  // where a new rule starts in the log

  bool Matches(std::string_view topic) const;
};

// Header names written by MapToKafka.
inline constexpr std::string_view kHeaderTopic = "mqtt.topic";
inline constexpr std::string_view kHeaderQos = "mqtt.qos";
inline constexpr std::string_view kHeaderRetain = "mqtt.retain";
inline constexpr std::string_view kHeaderPublisher = "mqtt.publisher";
inline constexpr std::string_view kHeaderContentType = "mqtt.content_type";
inline constexpr std::string_view kHeaderPayloadFormat = "mqtt.payload_format";
inline constexpr std::string_view kHeaderResponseTopic = "mqtt.response_topic";
inline constexpr std::string_view kHeaderCorrelationData = "mqtt.correlation_data";
// Always written: where the record sits in Sluice's log, so a consumer can drop the
// duplicates at-least-once delivery may produce ("<partition>" and "<offset>" in decimal).
inline constexpr std::string_view kHeaderLogPartition = "sluice.partition";
inline constexpr std::string_view kHeaderLogOffset = "sluice.offset";

// The Kafka record for one log record (value = payload as is; timestamp = the record's).
// InvalidArgument if the Kafka topic cannot be rendered; DataLoss if the record's property
// block is malformed.
absl::StatusOr<KafkaRecord> MapToKafka(const MqttToKafkaRule& rule, const storage::Record& record,
                                       PartitionId partition, Offset offset);

struct KafkaToMqttRule {
  std::string name;
  std::vector<std::string> kafka_topics;
  std::string group_id;  // consumer group; default "sluice-bridge-<name>"
  Template mqtt_topic;
  uint8_t qos = 0;
  bool retain = false;
  // Kafka headers other than mqtt.* / sluice.* become MQTT 5 user properties; a
  // mqtt.content_type header becomes the content type.
  bool headers_to_user_properties = true;
  StartFrom start_from = StartFrom::kEarliest;  // with no committed offset for the group
};

// InvalidArgument if the MQTT topic cannot be rendered (no key, a wildcard in the key, ...).
absl::StatusOr<MqttMessage> MapToMqtt(const KafkaToMqttRule& rule, const ConsumedRecord& record);

// Kafka topic names: [A-Za-z0-9._-]{1,249}, not "." or "..".
bool IsValidKafkaTopic(std::string_view name);
// Rule names: [A-Za-z0-9_.-]{1,128}.
bool IsValidRuleName(std::string_view name);
// InvalidArgument (saying why) unless `filter` is a valid MQTT topic filter (mqtt/topic) and
// not a shared subscription: a bridge rule sees every record of the log.
absl::Status ValidateRuleFilter(std::string_view filter);
// The MQTT 5 properties of a log record (mqtt::DecodeStoredProperties); DataLoss if malformed:
// the log holds only what the broker encoded, so that means corruption or a codec mismatch.
absl::StatusOr<mqtt::Properties> DecodeRecordProperties(std::string_view stored);

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MAPPING_RULES_H_
