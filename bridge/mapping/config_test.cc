#include "bridge/mapping/config.h"

#include "gtest/gtest.h"

namespace sluice::bridge {
namespace {

TEST(BridgeConfigTest, FullExample) {
  auto c = ParseBridgeConfigYaml(R"(
listen: 0.0.0.0:1883        # the broker's own keys are not ours
bridge:
  kafka:
    bootstrap_servers: "127.0.0.1:9092"
    properties: {compression.type: lz4, linger.ms: 10}
  limits:
    inflight_records_max: 500
    backoff_ms_max: 2000
  mqtt_to_kafka:
    - name: telemetry
      filters: ["devices/+/telemetry", "plants/+/x/#"]
      kafka_topic: "devices.{1}"
      key: level:1
      start_from: latest
  kafka_to_mqtt:
    - name: commands
      kafka_topics: [commands]
      mqtt_topic: "cmd/{key}"
      qos: 1
      retain: true
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.bootstrap_servers, "127.0.0.1:9092");
  ASSERT_EQ(c->kafka.properties.size(), 2u);
  EXPECT_EQ(c->kafka.properties[1].second, "10");
  EXPECT_EQ(c->limits.inflight_records_max, 500u);
  EXPECT_EQ(c->limits.backoff_ms_max, 2000);
  ASSERT_EQ(c->mqtt_to_kafka.size(), 1u);
  EXPECT_EQ(c->mqtt_to_kafka[0].key.source, KeySource::kLevel);
  EXPECT_EQ(c->mqtt_to_kafka[0].start_from, StartFrom::kLatest);
  ASSERT_EQ(c->kafka_to_mqtt.size(), 1u);
  EXPECT_EQ(c->kafka_to_mqtt[0].group_id, "sluice-bridge-commands");
  EXPECT_EQ(c->kafka_to_mqtt[0].qos, 1);
  EXPECT_TRUE(c->kafka_to_mqtt[0].retain);
}

TEST(BridgeConfigTest, NoSectionIsEmpty) {
  auto c = ParseBridgeConfigYaml("listen: 1\n");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
}

void ExpectError(const std::string& yaml, const std::string& fragment) {
  auto c = ParseBridgeConfigYaml(yaml);
  ASSERT_FALSE(c.ok()) << yaml;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(fragment), std::string::npos)
      << "message: " << c.status().message() << "\nexpected: " << fragment;
}

TEST(BridgeConfigTest, ClearErrors) {
  const std::string head = "bridge:\n  kafka: {bootstrap_servers: x}\n";
  ExpectError("bridge:\n  kafka: {bootstrap_servers: x, bogus: 1}\n", "bridge.kafka.bogus: unknown key");
  ExpectError("bridge:\n  colour: red\n", "bridge.colour: unknown key");
  ExpectError(head + "  mqtt_to_kafka:\n    - {name: a, filters: [a/#], kafka_topic: t, key: payload}\n",
              "bridge.mqtt_to_kafka[0].key: key must be one of");
  ExpectError(head + "  mqtt_to_kafka:\n    - {name: a, filters: [a/#], kafka_topic: 'k.{1}'}\n",
              "level 1 (0-based) is used but filter \"a/#\"");
  ExpectError(head + "  mqtt_to_kafka:\n    - {name: a, filters: ['a/#/b'], kafka_topic: t}\n",
              "bridge.mqtt_to_kafka[0].filters[0]");
  ExpectError(head + "  mqtt_to_kafka:\n    - {name: a, filters: [a], kafka_topic: t}\n"
                     "    - {name: a, filters: [b], kafka_topic: t}\n",
              "duplicate rule name");
  ExpectError(head + "  mqtt_to_kafka:\n    - {name: a, filters: [a]}\n", "kafka_topic: required");
  ExpectError(head + "  kafka_to_mqtt:\n    - {name: b, kafka_topics: [t], mqtt_topic: x, qos: 3}\n",
              "bridge.kafka_to_mqtt[0].qos: must be in [0, 2]");
  ExpectError(head + "  kafka_to_mqtt:\n    - {name: b, kafka_topics: [t], mqtt_topic: x, retain: maybe}\n",
              "retain: expected true or false");
  ExpectError(head + "  limits: {idle_poll_ms: soon}\n", "bridge.limits.idle_poll_ms: expected an integer");
  ExpectError("bridge:\n  mqtt_to_kafka:\n    - {name: a, filters: [a], kafka_topic: t}\n",
              "bootstrap_servers: required");
  ExpectError("bridge: [1, 2]\n", "bridge: expected a map");
  ExpectError("bridge: {\n", "config:");
}

}  // namespace
}  // namespace sluice::bridge
