// MQTT 5 properties and flow control: spec 5.0 sections 3.3.2.3 (PUBLISH properties), 3.1.2.11
// and 3.2.2.3 (CONNECT / CONNACK properties), 4.9 (flow control).
#include <map>
#include <thread>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

using PropertiesTest = ConformanceTest;

TEST_F(PropertiesTest, MessageExpiryDecrementedInOfflineQueue) {
  {
    auto sub = Client5("sub", Properties().Add(kSessionExpiry, 60), false);
    SubscribeOk(*sub, "p/exp", 1);
    sub->Send(Disconnect(kV5));
  }
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "p/exp", .payload = "x", .qos = 1,
                   .props = Properties().Add(kMessageExpiry, 10)});
  std::this_thread::sleep_for(1100ms);  // time spent in the queue
  auto sub = Client5("sub", Properties().Add(kSessionExpiry, 60), false);
  Packet p = Receive(*sub);
  ASSERT_TRUE(p.props.Num(kMessageExpiry).has_value()) << "[MQTT-3.3.2-6]";
  EXPECT_LE(*p.props.Num(kMessageExpiry), 9u) << "reduced by the time it waited";
  EXPECT_GE(*p.props.Num(kMessageExpiry), 7u);
}

TEST_F(PropertiesTest, ExpiredMessageNotDeliveredFromOfflineQueue) {
  {
    auto sub = Client5("sub", Properties().Add(kSessionExpiry, 60), false);
    SubscribeOk(*sub, "p/exp", 1);
    sub->Send(Disconnect(kV5));
  }
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "p/exp", .payload = "stale", .qos = 1,
                   .props = Properties().Add(kMessageExpiry, 1)});
  PublishOk(*pub, {.topic = "p/exp", .payload = "fresh", .qos = 1});
  std::this_thread::sleep_for(2100ms);  // let the 1 s expiry pass
  auto sub = Client5("sub", Properties().Add(kSessionExpiry, 60), false);
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"fresh"});
}

TEST_F(PropertiesTest, LiveMessageExpiryForwarded) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "p/live", 0);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "p/live", .payload = "x", .props = Properties().Add(kMessageExpiry, 60)});
  auto expiry = Receive(*sub).props.Num(kMessageExpiry);
  ASSERT_TRUE(expiry.has_value());
  EXPECT_GE(*expiry, 59u);
  EXPECT_LE(*expiry, 60u);
}

TEST_F(PropertiesTest, UserAndApplicationPropertiesForwardedUnchanged) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "p/fw", 1);
  auto pub = Client5("pub");
  Properties props;
  props.AddUser("b", "2").Add(kContentType, "text/plain").AddUser("a", "1")
      .Add(kPayloadFormat, 1).Add(kResponseTopic, "reply/here")
      .Add(kCorrelationData, Bytes("\x00\xFF\x01", 3)).AddUser("b", "3").AddUser("", "");
  PublishOk(*pub, {.topic = "p/fw", .payload = "hello", .qos = 1, .props = props});
  Packet p = Receive(*sub);
  EXPECT_EQ(p.props.UserProperties(), props.UserProperties()) << "[MQTT-3.3.2-18]: in order";
  EXPECT_EQ(p.props.Str(kContentType), "text/plain");
  EXPECT_EQ(p.props.Num(kPayloadFormat), 1u);
  EXPECT_EQ(p.props.Str(kResponseTopic), "reply/here");
  EXPECT_EQ(Hex(p.props.Str(kCorrelationData).value_or("")), "00 FF 01");
}

TEST_F(PropertiesTest, TopicAliasClientToServer) {
  START_BROKER({"--topic-alias-maximum=5"});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "t/alias", 0);
  auto pub = Client5("pub");
  EXPECT_EQ(pub->connack.props.Num(kTopicAliasMaximum), 5u);
  PublishOk(*pub, {.topic = "t/alias", .payload = "1", .props = Properties().Add(kTopicAlias, 3)});
  PublishOk(*pub, {.topic = "", .payload = "2", .props = Properties().Add(kTopicAlias, 3)});
  for (const char* payload : {"1", "2"}) {
    Packet p = Receive(*sub);
    EXPECT_EQ(p.topic, "t/alias");
    EXPECT_EQ(p.payload, payload);
    EXPECT_FALSE(p.props.Has(kTopicAlias)) << "the subscriber did not allow aliases";
  }
}

TEST_F(PropertiesTest, TopicAliasCanBeRemapped) {
  START_BROKER({"--topic-alias-maximum=2"});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "t/#", 0);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "t/one", .payload = "1", .props = Properties().Add(kTopicAlias, 1)});
  PublishOk(*pub, {.topic = "t/two", .payload = "2", .props = Properties().Add(kTopicAlias, 1)});
  PublishOk(*pub, {.topic = "", .payload = "3", .props = Properties().Add(kTopicAlias, 1)});
  EXPECT_EQ(Receive(*sub).topic, "t/one");
  EXPECT_EQ(Receive(*sub).topic, "t/two");
  EXPECT_EQ(Receive(*sub).topic, "t/two");
}

TEST_F(PropertiesTest, TopicAliasZeroIsInvalid) {
  SKIP_UNDER_MOSQUITTO("sends DISCONNECT 0x81 instead of 0x94 for alias 0");
  START_BROKER({"--topic-alias-maximum=5"});
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "t", .payload = "x", .props = Properties().Add(kTopicAlias, 0)}));
  ExpectDisconnect(*pub, 0x94);
}

TEST_F(PropertiesTest, TopicAliasAboveMaximumIsInvalid) {
  START_BROKER({"--topic-alias-maximum=5"});
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "t", .payload = "x", .props = Properties().Add(kTopicAlias, 6)}));
  ExpectDisconnect(*pub, 0x94);
}

TEST_F(PropertiesTest, UnknownTopicAliasWithEmptyTopicRejected) {
  START_BROKER({"--topic-alias-maximum=5"});
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "", .payload = "x", .props = Properties().Add(kTopicAlias, 2)}));
  Bytes frame = pub->Read();
  EXPECT_TRUE(IsDisconnect(frame, 0x82) || IsDisconnect(frame, 0x94)) << Hex(frame);
  EXPECT_TRUE(pub->ExpectClosed());
}

TEST_F(PropertiesTest, TopicAliasServerToClient) {
  SKIP_UNDER_MOSQUITTO("never sends topic aliases to clients");
  auto sub = Client5("sub", Properties().Add(kTopicAliasMaximum, 5));
  SubscribeOk(*sub, "t/srv", 0);
  auto pub = Client5("pub");
  for (int i = 0; i < 4; ++i) PublishOk(*pub, {.topic = "t/srv", .payload = std::to_string(i)});
  std::map<uint32_t, std::string> aliases;
  bool used_empty_topic = false;
  for (int i = 0; i < 4; ++i) {
    Packet p = Receive(*sub);
    std::string topic = p.topic;
    if (auto alias = p.props.Num(kTopicAlias)) {
      EXPECT_GE(*alias, 1u);
      EXPECT_LE(*alias, 5u) << "[MQTT-3.3.2-9]: within the client's Topic Alias Maximum";
      if (topic.empty()) {
        used_empty_topic = true;
        ASSERT_TRUE(aliases.count(*alias)) << "alias used before being set";
        topic = aliases[*alias];
      } else {
        aliases[*alias] = topic;
      }
    }
    EXPECT_EQ(topic, "t/srv");
    EXPECT_EQ(p.payload, std::to_string(i));
  }
  EXPECT_TRUE(used_empty_topic) << "repeated topics should be sent by alias";
}

TEST_F(PropertiesTest, NoServerTopicAliasesWithoutClientMaximum) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "t/none", 0);
  auto pub = Client5("pub");
  for (int i = 0; i < 3; ++i) PublishOk(*pub, {.topic = "t/none", .payload = "x"});
  for (int i = 0; i < 3; ++i) {
    Packet p = Receive(*sub);
    EXPECT_EQ(p.topic, "t/none");
    EXPECT_FALSE(p.props.Has(kTopicAlias)) << "[MQTT-3.3.2-10]";
  }
}

TEST_F(PropertiesTest, ServerKeepAliveAdvertised) {
  START_BROKER({"--server-keep-alive=20"});  // mosquitto's max_keepalive must be >= 10
  auto c = Client({.version = kV5, .client_id = "ka", .keep_alive_s = 60});
  EXPECT_EQ(c->connack.props.Num(kServerKeepAlive), 20u);
}

TEST_F(PropertiesTest, NoServerKeepAliveByDefault) {
  auto c = Client({.version = kV5, .client_id = "ka", .keep_alive_s = 60});
  EXPECT_FALSE(c->connack.props.Has(kServerKeepAlive));
}

TEST_F(PropertiesTest, ClientExceedingReceiveMaximumDisconnected93) {
  SKIP_UNDER_MOSQUITTO("does not enforce its Receive Maximum with DISCONNECT 0x93");
  START_BROKER({"--receive-maximum=2"});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "rm", 0);  // so PUBREC says 0x00 rather than 0x10 No matching subscribers
  auto pub = Client5("pub");
  EXPECT_EQ(pub->connack.props.Num(kReceiveMaximum), 2u);
  // QoS 2 messages stay in flight until PUBCOMP; never send PUBREL.
  for (uint16_t id = 1; id <= 2; ++id) {
    pub->Send(Publish(kV5, {.topic = "rm", .payload = "x", .qos = 2, .id = id}));
    EXPECT_TRUE(IsAck(kV5, pub->Read(), kPubrec, id));
  }
  pub->Send(Publish(kV5, {.topic = "rm", .payload = "x", .qos = 2, .id = 3}));
  ExpectDisconnect(*pub, 0x93);
}

TEST_F(PropertiesTest, BrokerRespectsClientReceiveMaximum) {
  auto sub = Client5("sub", Properties().Add(kReceiveMaximum, 2));
  SubscribeOk(*sub, "rm/out", 1);
  auto pub = Client5("pub");
  for (int i = 0; i < 5; ++i)
    PublishOk(*pub, {.topic = "rm/out", .payload = std::to_string(i), .qos = 1});
  std::vector<Packet> inflight;
  for (int i = 0; i < 2; ++i) inflight.push_back(Receive(*sub, /*ack=*/false));
  EXPECT_TRUE(sub->ExpectSilent()) << "[MQTT-3.3.4-9]: at most 2 unacknowledged";
  std::vector<std::string> payloads{inflight[0].payload, inflight[1].payload};
  sub->Send(Ack(kV5, kPuback, inflight[0].id));
  sub->Send(Ack(kV5, kPuback, inflight[1].id));
  for (int i = 0; i < 3; ++i) payloads.push_back(Receive(*sub).payload);
  EXPECT_EQ(payloads, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_F(PropertiesTest, BrokerRespectsClientMaximumPacketSize) {
  auto sub = Client5("sub", Properties().Add(kMaximumPacketSize, 64));
  SubscribeOk(*sub, "mps", 1);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "mps", .payload = std::string(200, 'L'), .qos = 1});
  PublishOk(*pub, {.topic = "mps", .payload = "small", .qos = 1});
  Bytes frame = sub->Read();
  EXPECT_LE(frame.size(), 64u) << "[MQTT-3.1.2-24]";
  EXPECT_EQ(Decode(kV5, frame).payload, "small") << "the large message is dropped";
}

TEST_F(PropertiesTest, PacketOverServerMaximumDisconnected95) {
  START_BROKER({"--max-packet-size=1024"});
  auto pub = Client5("pub");
  EXPECT_EQ(pub->connack.props.Num(kMaximumPacketSize), 1024u);
  pub->Send(Publish(kV5, {.topic = "big", .payload = std::string(2000, 'x')}));
  ExpectDisconnect(*pub, 0x95);
}

TEST_F(PropertiesTest, PacketAtServerMaximumAccepted) {
  START_BROKER({"--max-packet-size=1024"});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "fit", 0);
  auto pub = Client5("pub");
  // Header 30 + 2-byte length + topic (2+3) + property length (1) = 9 bytes.
  Bytes frame = Publish(kV5, {.topic = "fit", .payload = std::string(1024 - 9, 'x')});
  ASSERT_EQ(frame.size(), 1024u);
  pub->Send(frame);
  EXPECT_EQ(Receive(*sub).payload.size(), 1024u - 9);
}

TEST_F(PropertiesTest, SessionExpiryClampedToServerMaximum) {
  START_BROKER({"--max-session-expiry=10"});
  auto c = Client5("long", Properties().Add(kSessionExpiry, 3600), false);
  EXPECT_EQ(c->connack.props.Num(kSessionExpiry), 10u) << "3.2.2.3.2";
}

}  // namespace
}  // namespace sluice::conformance
