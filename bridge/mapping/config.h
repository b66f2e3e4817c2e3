// The `bridge:` section of the broker's config file (YAML), parsed with yaml-cpp into
// BridgeConfig. Unknown keys, wrong types and bad values are InvalidArgument errors whose
// message names the key path ("bridge.mqtt_to_kafka[1].key: ..."). Thread-compatible.
//
//   bridge:
//     kafka:
//       bootstrap_servers: "10.0.0.5:9092,10.0.0.6:9092"   # required when there are rules
//       client_id: sluice                                   # default "sluice"
//       properties: {compression.type: lz4}                # any librdkafka property, as strings
//     limits:                       # per (rule, partition) worker unless stated
//       inflight_records_max: 10000 # records read and not yet acknowledged by Kafka
//       read_batch_records: 500
//       read_batch_bytes: 1048576
//       commit_interval_ms: 1000    # checkpoint at least this often while records flow
//       commit_every_records: 10000 # ... or after this many acknowledged records
//       backoff_ms_min: 100         # retry delay after a failed delivery, doubling ...
//       backoff_ms_max: 10000       # ... up to this
//       idle_poll_ms: 20            # look for new records this often without Notify()
//       stop_timeout_ms: 5000       # Stop() waits this long for outstanding deliveries
//     mqtt_to_kafka:
//       - name: telemetry                 # [A-Za-z0-9._-]; cursor "bridge:<name>"
//         filters: ["devices/+/telemetry", "plants/#"]
//         kafka_topic: "devices.{1}"      # levels 0-based, {topic}, {publisher}
//         key: topic                      # none | topic | publisher | level:N
//         mqtt_headers: true
//         user_property_prefix: ""
//         start_from: earliest            # earliest | latest, for a rule without a cursor
//     kafka_to_mqtt:
//       - name: commands
//         kafka_topics: [commands]
//         group_id: sluice-commands       # default sluice-bridge-<name>
//         mqtt_topic: "cmd/{key}"         # {topic}, {key}, {partition}
//         qos: 1
//         retain: false
//         headers_to_user_properties: true
//         start_from: earliest            # auto.offset.reset when the group has no offset
#ifndef SLUICE_BRIDGE_MAPPING_CONFIG_H_
#define SLUICE_BRIDGE_MAPPING_CONFIG_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/mapping/rules.h"

namespace YAML {
class Node;
}

namespace sluice::bridge {

struct KafkaClientConfig {
  std::string bootstrap_servers;
  std::string client_id = "sluice";
  // Extra librdkafka properties, applied after the bridge's defaults (so they may override
  // them, except the ones the guarantees depend on: see kafka/producer.h).
  std::vector<std::pair<std::string, std::string>> properties;
};

struct BridgeLimits {
  uint64_t inflight_records_max = 10'000;
  uint64_t read_batch_records = 500;
  uint64_t read_batch_bytes = 1 << 20;
  int64_t commit_interval_ms = 1000;
  uint64_t commit_every_records = 10'000;
  int64_t backoff_ms_min = 100;
  int64_t backoff_ms_max = 10'000;
  int64_t idle_poll_ms = 20;
  int64_t stop_timeout_ms = 5000;
};

struct BridgeConfig {
  KafkaClientConfig kafka;
  BridgeLimits limits;
  std::vector<MqttToKafkaRule> mqtt_to_kafka;
  std::vector<KafkaToMqttRule> kafka_to_mqtt;
  bool empty() const { return mqtt_to_kafka.empty() && kafka_to_mqtt.empty(); }
};

// Parses the value of the `bridge` key.
absl::StatusOr<BridgeConfig> ParseBridgeConfig(const YAML::Node& bridge);
// Parses a whole config document and reads its `bridge:` section (other top-level keys belong
// to the broker and are ignored here). No `bridge:` key: an empty config.
absl::StatusOr<BridgeConfig> ParseBridgeConfigYaml(const std::string& text);

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MAPPING_CONFIG_H_
