// The bridge reads the records sluiced writes: a message stored by the broker
// (broker::Durable::ToRecord, the real codec) decodes to the same forwarded properties, and maps
// to the Kafka record the README promises. Guards the format contract between broker/ and
// bridge/ (they share no code for it).
#include <map>

#include "mqtt/codec/codec.h"
#include "bridge/mapping/rules.h"
#include "broker/server/durable.h"
#include "gtest/gtest.h"

namespace sluice::bridge {
namespace {

TEST(RecordFormatTest, BrokerRecordsDecodeInTheBridge) {
  broker::Message m;
  m.topic = "devices/d1/telemetry";
  m.payload = "21.5";
  m.qos = 1;
  m.publisher = "pub-1";
  m.properties.payload_format_indicator = 1;
  m.properties.message_expiry_interval = 3600;
  m.properties.content_type = "application/json";
  m.properties.response_topic = "reply/d1";
  m.properties.correlation_data = std::string("\0\x01", 2);
  m.properties.user_properties = {{"site", "berlin"}, {"site", "paris"}, {"unit", "C"}};
  storage::Record r = broker::Durable::ToRecord(m);

  auto p = DecodeRecordProperties(r.properties);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->payload_format_indicator, 1);
  EXPECT_EQ(p->message_expiry_interval, 3600u);
  EXPECT_EQ(p->content_type, "application/json");
  EXPECT_EQ(p->response_topic, "reply/d1");
  EXPECT_EQ(p->correlation_data, std::string("\0\x01", 2));
  EXPECT_EQ(p->user_properties, m.properties.user_properties);

  // No properties: an empty field, nothing forwarded.
  broker::Message plain;
  plain.topic = "a";
  plain.qos = 1;
  auto none = DecodeRecordProperties(broker::Durable::ToRecord(plain).properties);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, mqtt::Properties{});
}

}  // namespace
}  // namespace sluice::bridge
