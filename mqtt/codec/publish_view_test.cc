// EncodePublish(PublishView) must produce exactly what Encode(Publish) produces for the
// equivalent value, since the broker uses the former on its delivery path.
#include "mqtt/codec/codec.h"
#include "gtest/gtest.h"

namespace sluice::mqtt {
namespace {

Properties Rich() {
  Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 60;
  p.content_type = "text/plain";
  p.response_topic = "reply/here";
  p.correlation_data = std::string("\x00\x01", 2);
  p.user_properties = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  return p;
}

void ExpectSame(const PublishView& view, const Publish& value, Version v) {
  std::string a, b;
  EncodePublish(view, v, &a);
  Encode(value, v, &b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(EncodedPublishSize(view, v), b.size());
  EXPECT_EQ(EncodedSize(value, v), b.size());
}

TEST(PublishView, MatchesPublishEncodingWithOverrides) {
  const Properties base = Rich();
  const std::vector<uint32_t> ids = {7, 300, 268435455};
  for (Version v : {Version::k311, Version::k5}) {
    for (uint8_t qos : {0, 1, 2}) {
      PublishView view;
      view.topic = "a/b";
      view.payload = "payload";
      view.qos = qos;
      view.retain = qos == 1;
      view.dup = qos == 2;
      view.packet_id = qos ? 4242 : 0;
      view.properties = &base;
      view.subscription_identifiers = &ids;
      view.topic_alias = 3;
      view.message_expiry_interval = 17;

      Publish value;
      value.topic = "a/b";
      value.payload = "payload";
      value.qos = qos;
      value.retain = view.retain;
      value.dup = view.dup;
      value.packet_id = view.packet_id;
      value.properties = base;
      value.properties.subscription_identifiers = ids;
      value.properties.topic_alias = 3;
      value.properties.message_expiry_interval = 17;
      ExpectSame(view, value, v);
    }
  }
}

TEST(PublishView, NoPropertiesAndAliasOnlyTopic) {
  PublishView view;
  view.topic = "";
  view.payload = "";
  view.topic_alias = 9;
  Publish value;
  value.properties.topic_alias = 9;
  ExpectSame(view, value, Version::k5);
  PublishView bare;
  bare.topic = "t";
  Publish bare_value;
  bare_value.topic = "t";
  ExpectSame(bare, bare_value, Version::k5);
  ExpectSame(bare, bare_value, Version::k311);
}

}  // namespace
}  // namespace sluice::mqtt
