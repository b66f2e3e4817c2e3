#include "bridge/mapping/rules.h"

#include "mqtt/codec/codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice::bridge {
namespace {

using ::testing::Contains;
using ::testing::Pair;

TEST(TopicFilterTest, Matching) {
  // Matching itself is mqtt/topic's (tested there); rules refuse what a bridge cannot serve.
  EXPECT_TRUE(ValidateRuleFilter("a/+/#").ok());
  EXPECT_FALSE(ValidateRuleFilter("a/#/b").ok());
  EXPECT_FALSE(ValidateRuleFilter("a/b+").ok());
  EXPECT_FALSE(ValidateRuleFilter("$share/g/a").ok());
  EXPECT_FALSE(ValidateRuleFilter("").ok());
}

TEST(TemplateTest, KafkaTopicLevelsAreZeroBased) {
  auto t = Template::Parse("devices.{1}", Template::Kind::kKafkaTopic);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->max_level(), 1);
  EXPECT_EQ(*t->RenderKafkaTopic("devices/d7/temp", "c1"), "devices.d7");
  auto all = Template::Parse("mqtt-{topic}-{publisher}", Template::Kind::kKafkaTopic);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all->RenderKafkaTopic("a/b c/d", "cli ent"), "mqtt-a.b_c.d-cli_ent");  // sanitised
  EXPECT_FALSE(t->RenderKafkaTopic("devices", "c").ok());  // no level 1
  auto braces = Template::Parse("x{{y}}", Template::Kind::kMqttTopic);
  ASSERT_TRUE(braces.ok());
  EXPECT_EQ(*braces->RenderMqttTopic(ConsumedRecord{}), "x{y}");
}

TEST(TemplateTest, Errors) {
  EXPECT_FALSE(Template::Parse("", Template::Kind::kKafkaTopic).ok());
  EXPECT_FALSE(Template::Parse("a.{nope}", Template::Kind::kKafkaTopic).ok());
  EXPECT_FALSE(Template::Parse("a.{1", Template::Kind::kKafkaTopic).ok());
  EXPECT_FALSE(Template::Parse("a}", Template::Kind::kKafkaTopic).ok());
  EXPECT_FALSE(Template::Parse("bad topic", Template::Kind::kKafkaTopic).ok());
  EXPECT_FALSE(Template::Parse("a/{1}", Template::Kind::kMqttTopic).ok());  // levels: Kafka side only
  EXPECT_FALSE(Template::Parse("a/+/{key}", Template::Kind::kMqttTopic).ok());
}

TEST(TemplateTest, MqttTopicFromKafka) {
  auto t = Template::Parse("k/{topic}/{partition}/{key}", Template::Kind::kMqttTopic);
  ASSERT_TRUE(t.ok());
  ConsumedRecord r;
  r.topic = "cmds";
  r.partition = 2;
  r.key = "dev-1";
  EXPECT_EQ(*t->RenderMqttTopic(r), "k/cmds/2/dev-1");
  r.key = "a/#";
  EXPECT_FALSE(t->RenderMqttTopic(r).ok());
  r.key.reset();
  EXPECT_FALSE(t->RenderMqttTopic(r).ok());
}

TEST(KeySpecTest, Parse) {
  EXPECT_EQ(ParseKeySpec("topic")->source, KeySource::kTopic);
  EXPECT_EQ(ParseKeySpec("publisher")->source, KeySource::kPublisher);
  EXPECT_EQ(ParseKeySpec("client_id")->source, KeySource::kPublisher);
  EXPECT_EQ(ParseKeySpec("none")->source, KeySource::kNone);
  EXPECT_EQ(ParseKeySpec("level:2")->level, 2);
  EXPECT_FALSE(ParseKeySpec("level:").ok());
  EXPECT_FALSE(ParseKeySpec("level:-1").ok());
  EXPECT_FALSE(ParseKeySpec("payload").ok());
}

// The forwarded fields of a record's properties (what MapToKafka puts in headers).
void ExpectForwardedEqual(const mqtt::Properties& got, const mqtt::Properties& want) {
  EXPECT_EQ(got.payload_format_indicator, want.payload_format_indicator);
  EXPECT_EQ(got.message_expiry_interval, want.message_expiry_interval);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.response_topic, want.response_topic);
  EXPECT_EQ(got.correlation_data, want.correlation_data);
  EXPECT_EQ(got.user_properties, want.user_properties);
}

// What the broker stores (mqtt::EncodeStoredProperties): the block inside a minimal MQTT 5
// PUBLISH frame; a bare block decodes too.
TEST(PropertiesTest, StoredFormsDecode) {
  mqtt::Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 70000;
  p.content_type = "application/json";
  p.response_topic = "r/1";
  p.correlation_data = std::string("\0\1", 2);
  p.user_properties = {{"a", "1"}, {"a", "2"}, {"b", ""}};
  const std::string framed = mqtt::EncodeStoredProperties(p);
  // 30 <len> 00 01 'p' <props len> <props>
  EXPECT_EQ(framed.substr(0, 1), "\x30");
  ExpectForwardedEqual(*DecodeRecordProperties(framed), p);
  EXPECT_EQ(DecodeRecordProperties(framed.substr(0, framed.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  // The bare block inside it: the frame minus its first 5 bytes (header, topic) and the
  // block's length byte.
  const std::string bare = framed.substr(6);
  ExpectForwardedEqual(*DecodeRecordProperties(bare), p);
  EXPECT_EQ(DecodeRecordProperties("\x03\x00\x09ab").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRecordProperties("\x7F").status().code(), absl::StatusCode::kDataLoss);
  ExpectForwardedEqual(*DecodeRecordProperties(""), mqtt::Properties{});
  EXPECT_TRUE(mqtt::EncodeStoredProperties(mqtt::Properties{}).empty());
}

MqttToKafkaRule Rule(std::string topic, KeySpec key) {
  MqttToKafkaRule r;
  r.name = "r";
  r.filters = {"devices/+/temp"};
  r.kafka_topic = *Template::Parse(topic, Template::Kind::kKafkaTopic);
  r.key = key;
  return r;
}

TEST(MapToKafkaTest, KeyHeadersValue) {
  storage::Record rec;
  rec.topic = "devices/d7/temp";
  rec.payload = std::string("\0{\"t\":21}", 9);
  rec.qos = 1;
  rec.retain = true;
  rec.publisher = "d7";
  rec.timestamp_ms = 1234;
  mqtt::Properties p;
  p.content_type = "application/json";
  p.user_properties = {{"site", "berlin"}};
  rec.properties = mqtt::EncodeStoredProperties(p);

  MqttToKafkaRule rule = Rule("devices.{1}", {KeySource::kTopic});
  EXPECT_TRUE(rule.Matches(rec.topic));
  EXPECT_FALSE(rule.Matches("devices/d7/hum"));
  auto k = MapToKafka(rule, rec, PartitionId(3), Offset(42));
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->topic, "devices.d7");
  EXPECT_EQ(*k->key, "devices/d7/temp");
  EXPECT_EQ(k->value, rec.payload);
  EXPECT_EQ(k->timestamp_ms, 1234);
  EXPECT_THAT(k->headers, Contains(Pair("mqtt.topic", "devices/d7/temp")));
  EXPECT_THAT(k->headers, Contains(Pair("mqtt.qos", "1")));
  EXPECT_THAT(k->headers, Contains(Pair("mqtt.retain", "true")));
  EXPECT_THAT(k->headers, Contains(Pair("mqtt.publisher", "d7")));
  EXPECT_THAT(k->headers, Contains(Pair("mqtt.content_type", "application/json")));
  EXPECT_THAT(k->headers, Contains(Pair("site", "berlin")));
  EXPECT_THAT(k->headers, Contains(Pair("sluice.partition", "3")));
  EXPECT_THAT(k->headers, Contains(Pair("sluice.offset", "42")));

  rule = Rule("all", {KeySource::kLevel, 1});
  rule.user_property_prefix = "up.";
  k = MapToKafka(rule, rec, PartitionId(0), Offset(0));
  EXPECT_EQ(*k->key, "d7");
  EXPECT_THAT(k->headers, Contains(Pair("up.site", "berlin")));
  rule = Rule("all", {KeySource::kPublisher});
  EXPECT_EQ(*MapToKafka(rule, rec, PartitionId(0), Offset(0))->key, "d7");
  rule = Rule("all", {KeySource::kNone});
  rule.mqtt_headers = false;
  k = MapToKafka(rule, rec, PartitionId(0), Offset(0));
  EXPECT_FALSE(k->key.has_value());
  EXPECT_EQ(k->headers.size(), 2u);  // sluice.partition, sluice.offset only
}

TEST(MapToMqttTest, HeadersBecomeUserProperties) {
  KafkaToMqttRule rule;
  rule.mqtt_topic = *Template::Parse("cmd/{key}", Template::Kind::kMqttTopic);
  rule.qos = 1;
  rule.retain = true;
  ConsumedRecord r;
  r.topic = "commands";
  r.key = "dev-1";
  r.value = "reboot";
  r.headers = {{"mqtt.content_type", "text/plain"}, {"trace", "abc"}, {"sluice.offset", "9"}};
  auto m = MapToMqtt(rule, r);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->topic, "cmd/dev-1");
  EXPECT_EQ(m->payload, "reboot");
  EXPECT_EQ(m->qos, 1);
  EXPECT_TRUE(m->retain);
  EXPECT_EQ(*m->content_type, "text/plain");
  EXPECT_EQ(m->user_properties, (Headers{{"trace", "abc"}}));
}

}  // namespace
}  // namespace sluice::bridge
