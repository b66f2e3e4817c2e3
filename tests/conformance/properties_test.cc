// MQTT 5 properties and flow control: spec 5.0 sections 3.3.2.3 (PUBLISH properties), 3.1.2.11
// and 3.2.2.3 (CONNECT / CONNACK properties), reason strings and Request Problem Information
// (3.1.2.11.7), 4.9 (flow control; 3.1.1's inflight window too).
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

// ---- Reason strings and Request Problem Information (5.0 3.1.2.11.7) ----------------------

// True if `frame` carries a Reason String (0x1F) or a User Property (0x26).
::testing::AssertionResult HasProblemInfo(const Bytes& frame) {
  Packet p = Decode(kV5, frame);
  if (!p.error.empty()) return ::testing::AssertionFailure() << "undecodable: " << p.error;
  if (p.props.Has(kReasonString) || p.props.Has(kUserProperty))
    return ::testing::AssertionSuccess() << "[" << Hex(frame) << "] has a reason string or "
                                         << "user property";
  return ::testing::AssertionFailure() << "[" << Hex(frame) << "] has neither";
}

TEST_F(PropertiesTest, ConnackRefusalCarriesReasonString) {
  SKIP_UNDER_MOSQUITTO("sends no reason strings");
  START_BROKER({"--allow-anonymous=false"});
  for (uint32_t rpi : {1u, 0u}) {  // CONNACK may carry one whatever the client asked
    auto c = Open(kV5);
    c->Send(Connect({.version = kV5, .client_id = "anon",
                     .props = Properties().Add(kRequestProblemInfo, rpi)}));
    Packet p = c->ReadDecoded();
    EXPECT_EQ(p.type, kConnack);
    EXPECT_EQ(p.reason, 0x87) << "Not authorized";
    EXPECT_FALSE(p.props.Str(kReasonString).value_or("").empty())
        << "Request Problem Information " << rpi << ": no reason string on the refusal";
    EXPECT_TRUE(c->ExpectClosed());
  }
}

TEST_F(PropertiesTest, ProtocolErrorDisconnectCarriesReasonString) {
  SKIP_UNDER_MOSQUITTO("sends DISCONNECT 0x81 without a reason string for alias 0");
  START_BROKER({"--topic-alias-maximum=5"});
  for (uint32_t rpi : {1u, 0u}) {  // DISCONNECT may carry one whatever the client asked
    auto c = Client5("alias0", Properties().Add(kRequestProblemInfo, rpi));
    c->Send(Publish(kV5, {.topic = "t", .payload = "x", .props = Properties().Add(kTopicAlias, 0)}));
    Bytes frame = c->Read();
    EXPECT_TRUE(IsDisconnect(frame, 0x94)) << "Topic Alias invalid";
    EXPECT_FALSE(Decode(kV5, frame).props.Str(kReasonString).value_or("").empty())
        << "Request Problem Information " << rpi << ": no reason string on [" << Hex(frame) << "]";
    EXPECT_TRUE(c->ExpectClosed());
  }
}

TEST_F(PropertiesTest, SubackErrorCarriesReasonStringWhenProblemInfoRequested) {
  // The positive control for the next test: the same refused SUBSCRIBE does get a reason
  // string when the client did not say Request Problem Information = 0 (default 1).
  if (UnderMosquitto()) GTEST_SKIP() << "Sluice's replay property";
  auto c = Client5("rpi1");
  c->Send(Subscribe(kV5, 1, {{.filter = "r/t", .qos = 1}},
                    Properties().AddUser("sluice-replay", "yesterday")));
  Bytes frame = c->Read();
  Packet p = Decode(kV5, frame);
  EXPECT_EQ(p.type, kSuback) << Hex(frame);
  EXPECT_EQ(p.reasons, std::vector<uint8_t>{0x83});
  EXPECT_FALSE(p.props.Str(kReasonString).value_or("").empty()) << Hex(frame);
}

TEST_F(PropertiesTest, NoProblemInfoOutsidePublishConnackDisconnectWhenRequestProblemInfoIs0) {
  // [MQTT-3.1.2-29]: with Request Problem Information 0 the server MUST NOT send a Reason
  // String or User Properties on any packet other than PUBLISH, CONNACK or DISCONNECT. Every
  // other packet the broker can send a client is drawn out here, refusals included (where a
  // reason string would be most tempting), and checked.
  START_BROKER({"--deny-subscribe=no/sub", "--deny-publish=no/pub"});
  auto c = Client5("rpi0", Properties().Add(kRequestProblemInfo, 0));
  auto check = [&](const Bytes& frame, uint8_t type, const char* what) {
    Packet p = Decode(kV5, frame);
    EXPECT_EQ(p.type, type) << what << ": [" << Hex(frame) << "]";
    EXPECT_FALSE(HasProblemInfo(frame)) << what;
    return p;
  };
  // SUBACK: granted, invalid share name, denied, bad replay value.
  c->Send(Subscribe(kV5, 1, {{.filter = "ok/t", .qos = 2}, {.filter = "$share/g+/t"},
                             {.filter = "no/sub", .qos = 1}}));
  EXPECT_EQ(check(c->Read(), kSuback, "SUBACK").reasons, (std::vector<uint8_t>{2, 0x8F, 0x87}));
  c->Send(Subscribe(kV5, 2, {{.filter = "r/t", .qos = 1}},
                    Properties().AddUser("sluice-replay", "yesterday")));
  EXPECT_EQ(check(c->Read(), kSuback, "SUBACK of a bad replay value").reasons,
            std::vector<uint8_t>{0x83});
  // UNSUBACK: success and No subscription existed.
  c->Send(Unsubscribe(kV5, 3, {"ok/t", "never/subscribed"}));
  EXPECT_EQ(check(c->Read(), kUnsuback, "UNSUBACK").reasons, (std::vector<uint8_t>{0, 0x11}));
  // PUBACK: No matching subscribers, Not authorized.
  c->Send(Publish(kV5, {.topic = "nobody/here", .payload = "x", .qos = 1, .id = 4}));
  EXPECT_EQ(check(c->Read(), kPuback, "PUBACK").reason, 0x10);
  c->Send(Publish(kV5, {.topic = "no/pub", .payload = "x", .qos = 1, .id = 5}));
  EXPECT_EQ(check(c->Read(), kPuback, "PUBACK of a denied publish").reason, 0x87);
  // PUBREC / PUBCOMP of a QoS 2 flow; PUBCOMP 0x92 for an unknown PUBREL.
  c->Send(Publish(kV5, {.topic = "nobody/here", .payload = "x", .qos = 2, .id = 6}));
  check(c->Read(), kPubrec, "PUBREC");
  c->Send(Ack(kV5, kPubrel, 6));
  EXPECT_EQ(check(c->Read(), kPubcomp, "PUBCOMP").reason, 0);
  c->Send(Ack(kV5, kPubrel, 7));
  EXPECT_EQ(check(c->Read(), kPubcomp, "PUBCOMP for an unknown id").reason, 0x92);
  // PUBREL: the broker's QoS 2 delivery to this client.
  SubscribeOk(*c, "q2/t", 2);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "q2/t", .payload = "x", .qos = 2});
  Packet delivery = Receive(*c, /*ack=*/false);
  ASSERT_EQ(delivery.qos, 2);
  c->Send(Ack(kV5, kPubrec, delivery.id));
  check(c->Read(), kPubrel, "PUBREL");
  c->Send(Ack(kV5, kPubcomp, delivery.id));
  // PUBREL 0x92 for a PUBREC the broker has no message for.
  c->Send(Ack(kV5, kPubrec, 999));
  EXPECT_EQ(check(c->Read(), kPubrel, "PUBREL for an unknown id").reason, 0x92);
  // PINGRESP.
  c->Send(Pingreq());
  check(c->Read(), kPingresp, "PINGRESP");
  EXPECT_TRUE(c->ExpectSilent());
}

// ---- MQTT 3.1.1 outgoing window (max_inflight) -----------------------------------------------

TEST_F(PropertiesTest, V311InflightWindowIsMaxInflight) {
  // 3.1.1 has no Receive Maximum: the broker's max_inflight bounds the QoS 1 messages it has
  // sent a 3.1.1 client and not yet had acknowledged; the rest wait, in order, for PUBACKs.
  SKIP_UNDER_MOSQUITTO("with max_inflight_messages 3, one PUBACK releases 3 more messages "
                       "(5 unacknowledged)");
  START_BROKER({"--max-inflight=3"});
  auto sub = Client311("sub311");
  SubscribeOk(*sub, "w/t", 1);
  auto pub = Client5("pub");
  for (int i = 0; i < 8; ++i)
    PublishOk(*pub, {.topic = "w/t", .payload = std::to_string(i), .qos = 1});
  std::vector<Packet> inflight;
  for (int i = 0; i < 3; ++i) inflight.push_back(Receive(*sub, /*ack=*/false));
  EXPECT_TRUE(sub->ExpectSilent()) << "more than max_inflight=3 unacknowledged";
  std::vector<std::string> payloads;
  for (const Packet& p : inflight) {
    EXPECT_EQ(p.qos, 1);
    EXPECT_FALSE(p.dup);
    payloads.push_back(p.payload);
  }
  // One PUBACK opens one slot: exactly one more message.
  sub->Send(Ack(kV311, kPuback, inflight[0].id));
  inflight.push_back(Receive(*sub, /*ack=*/false));
  payloads.push_back(inflight.back().payload);
  EXPECT_TRUE(sub->ExpectSilent()) << "one PUBACK, one more message";
  // Acknowledge the other three: the window refills to 3 (messages 4, 5, 6), not beyond.
  for (int i = 1; i <= 3; ++i) sub->Send(Ack(kV311, kPuback, inflight[size_t(i)].id));
  std::vector<Packet> next;
  for (int i = 0; i < 3; ++i) next.push_back(Receive(*sub, /*ack=*/false));
  EXPECT_TRUE(sub->ExpectSilent()) << "the window is 3 again";
  for (const Packet& p : next) payloads.push_back(p.payload);
  for (const Packet& p : next) sub->Send(Ack(kV311, kPuback, p.id));
  payloads.push_back(Receive(*sub).payload);
  EXPECT_TRUE(sub->ExpectSilent());
  EXPECT_EQ(payloads, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}))
      << "in publication order [MQTT-4.6.0-6]";
}

}  // namespace
}  // namespace sluice::conformance
