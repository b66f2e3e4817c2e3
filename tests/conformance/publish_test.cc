// PUBLISH and its QoS flows: spec 3.1.1 sections 3.3-3.7 and 4.3, 5.0 sections 3.3-3.7, 4.3 and
// 3.8.3.1 (subscription options).
#include <algorithm>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

using PublishTest = ConformanceTest;

TEST_F(PublishTest, V311Qos0ExactBytes) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "a/b", 0);
  auto pub = Client311("pub");
  pub->Send(FromHex("30 07 00 03 61 2F 62 68 69"));  // "a/b" "hi"
  EXPECT_EQ(Hex(sub->Read()), "30 07 00 03 61 2F 62 68 69");
}

TEST_F(PublishTest, V5Qos0ExactBytes) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "a/b", 0);
  auto pub = Client5("pub");
  pub->Send(FromHex("30 08 00 03 61 2F 62 00 68 69"));
  EXPECT_EQ(Hex(sub->Read()), "30 08 00 03 61 2F 62 00 68 69");
}

TEST_F(PublishTest, V311Qos1BothDirections) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "q/1", 1);
  auto pub = Client311("pub");
  pub->Send(FromHex("32 08 00 03 71 2F 31 00 05 78"));
  EXPECT_EQ(Hex(pub->Read()), "40 02 00 05");
  Bytes frame = sub->Read();
  ASSERT_EQ(frame.size(), 10u) << Hex(frame);
  EXPECT_EQ(Hex(frame.substr(0, 7)), "32 08 00 03 71 2F 31");
  EXPECT_EQ(Hex(frame.substr(9)), "78");
  Packet p = Decode(kV311, frame);
  EXPECT_NE(p.id, 0) << "[MQTT-2.3.1-1] non-zero packet identifier";
  sub->Send(Ack(kV311, kPuback, p.id));
  EXPECT_TRUE(sub->ExpectSilent()) << "acked: no redelivery";
}

TEST_F(PublishTest, V5Qos1BothDirections) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "q/1", 1);
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "q/1", .payload = "x", .qos = 1, .id = 5}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPuback, 5));
  Packet p = Receive(*sub);
  EXPECT_EQ(p.qos, 1);
  EXPECT_EQ(p.payload, "x");
  EXPECT_NE(p.id, 0);
}

TEST_F(PublishTest, V311Qos2BothDirections) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "q/2", 2);
  auto pub = Client311("pub");
  pub->Send(Publish(kV311, {.topic = "q/2", .payload = "x", .qos = 2, .id = 7}));
  EXPECT_EQ(Hex(pub->Read()), "50 02 00 07");
  pub->Send(FromHex("62 02 00 07"));
  EXPECT_EQ(Hex(pub->Read()), "70 02 00 07");
  Packet p = sub->ReadDecoded();
  EXPECT_EQ(p.type, kPublish);
  EXPECT_EQ(p.qos, 2);
  sub->Send(Ack(kV311, kPubrec, p.id));
  EXPECT_EQ(Hex(sub->Read()), "62 02 " + Hex(U16(p.id)));
  sub->Send(Ack(kV311, kPubcomp, p.id));
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(PublishTest, V5Qos2BothDirections) {
  auto sub = Client5("sub");
  SubscribeOk(*sub, "q/2", 2);
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "q/2", .payload = "x", .qos = 2, .id = 7}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPubrec, 7));
  pub->Send(Ack(kV5, kPubrel, 7));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPubcomp, 7));
  Packet p = sub->ReadDecoded();
  EXPECT_EQ(p.qos, 2);
  sub->Send(Ack(kV5, kPubrec, p.id));
  EXPECT_TRUE(IsAck(kV5, sub->Read(), kPubrel, p.id));
  sub->Send(Ack(kV5, kPubcomp, p.id));
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(PublishTest, QosDowngradedToSubscription) {
  for (Version v : {kV311, kV5}) {
    auto sub0 = Client({.version = v, .client_id = "sub0"});
    auto sub1 = Client({.version = v, .client_id = "sub1"});
    SubscribeOk(*sub0, "d/t", 0);
    SubscribeOk(*sub1, "d/t", 1);
    auto pub = Client({.version = v, .client_id = "pub"});
    PublishOk(*pub, {.topic = "d/t", .payload = "x", .qos = 2});
    Bytes f0 = sub0->Read();
    EXPECT_EQ(Hex(f0.substr(0, 1)), "30") << "QoS 0 subscription: " << Hex(f0);
    Packet p1 = Receive(*sub1);
    EXPECT_EQ(p1.qos, 1);
  }
}

TEST_F(PublishTest, QosNeverUpgraded) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "u/t", 2);
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "u/t", .payload = "x", .qos = 1});
  EXPECT_EQ(Receive(*sub).qos, 1);
  PublishOk(*pub, {.topic = "u/t", .payload = "y", .qos = 0});
  EXPECT_EQ(Receive(*sub).qos, 0);
}

TEST_F(PublishTest, Qos2DuplicateBeforePubrelDeliveredOnce) {
  for (Version v : {kV311, kV5}) {
    auto sub = Client({.version = v, .client_id = "sub"});
    SubscribeOk(*sub, "x/2", 2);
    auto pub = Client({.version = v, .client_id = "pub"});
    pub->Send(Publish(v, {.topic = "x/2", .payload = "once", .qos = 2, .id = 9}));
    EXPECT_TRUE(IsAck(v, pub->Read(), kPubrec, 9));
    pub->Send(Publish(v, {.topic = "x/2", .payload = "once", .qos = 2, .dup = true, .id = 9}));
    EXPECT_TRUE(IsAck(v, pub->Read(), kPubrec, 9)) << "the duplicate is acknowledged again";
    pub->Send(Ack(v, kPubrel, 9));
    EXPECT_TRUE(IsAck(v, pub->Read(), kPubcomp, 9));
    EXPECT_EQ(Receive(*sub).payload, "once");
    EXPECT_TRUE(sub->ExpectSilent()) << "[MQTT-4.3.3-9]: exactly once";
  }
}

TEST_F(PublishTest, Qos2SameIdAfterPubcompIsNewMessage) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "x/2", 2);
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "x/2", .payload = "first", .qos = 2, .id = 3});
  PublishOk(*pub, {.topic = "x/2", .payload = "second", .qos = 2, .id = 3});
  EXPECT_EQ(ReceivePayloads(*sub, 2), (std::vector<std::string>{"first", "second"}));
}

TEST_F(PublishTest, V5PubrelForUnknownIdGetsPubcomp92) {
  SKIP_UNDER_MOSQUITTO("answers PUBCOMP 0x00 for an unknown packet identifier");
  auto c = Client5("c");
  c->Send(Ack(kV5, kPubrel, 0x2A));
  EXPECT_TRUE(IsAck(kV5, c->Read(), kPubcomp, 0x2A, 0x92)) << "Packet Identifier not found";
}

TEST_F(PublishTest, V311PubrelForUnknownIdGetsPubcomp) {
  auto c = Client311("c");
  c->Send(FromHex("62 02 00 2A"));
  EXPECT_EQ(Hex(c->Read()), "70 02 00 2A");
}

TEST_F(PublishTest, MessagesFromOnePublisherStayInOrder) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "o/t", 1);
  auto pub = Client311("pub");
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back("m" + std::to_string(i));
    PublishOk(*pub, {.topic = "o/t", .payload = sent.back(), .qos = uint8_t(i % 2)});
  }
  EXPECT_EQ(ReceivePayloads(*sub, 20), sent) << "4.6: ordered topic";
}

TEST_F(PublishTest, BinaryAndLargePayloadsForwardedExactly) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "big", 0);
  auto pub = Client311("pub");
  Bytes payload;
  for (int i = 0; i < 200000; ++i) payload += char(i * 31 % 256);  // 3-byte remaining length
  PublishOk(*pub, {.topic = "big", .payload = payload});
  PublishOk(*pub, {.topic = "big", .payload = ""});
  Packet p = Receive(*sub);
  EXPECT_EQ(p.payload.size(), payload.size());
  EXPECT_TRUE(p.payload == payload);
  EXPECT_EQ(Hex(sub->Read()), "30 05 00 03 62 69 67") << "empty payload";
}

TEST_F(PublishTest, V5PropertiesStrippedForV311Subscriber) {
  auto sub = Client311("old");
  SubscribeOk(*sub, "mix", 0);
  auto pub = Client5("new");
  PublishOk(*pub, {.topic = "mix", .payload = "p",
                   .props = Properties().Add(kContentType, "text/plain").AddUser("k", "v")});
  EXPECT_EQ(Hex(sub->Read()), "30 06 00 03 6D 69 78 70");
}

TEST_F(PublishTest, V5OverlappingSubscriptionsOneCopyAllIdentifiers) {
  SKIP_UNDER_MOSQUITTO("sends one copy per matching subscription");
  auto sub = Client5("sub");
  SubscribeOk(*sub, "o/+", 1, Properties().Add(kSubscriptionId, 1));
  SubscribeOk(*sub, "o/#", 2, Properties().Add(kSubscriptionId, 2));
  SubscribeOk(*sub, "o/x", 0);  // no identifier
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "o/x", .payload = "x", .qos = 2});
  Packet p = Receive(*sub);
  EXPECT_EQ(p.qos, 2) << "the maximum QoS of the matching subscriptions";
  std::vector<uint32_t> ids = p.props.AllNums(kSubscriptionId);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(sub->ExpectSilent()) << "one copy only";
}

TEST_F(PublishTest, V5NoLocalSuppressesOwnMessages) {
  auto c = Client5("self");
  EXPECT_EQ(SubscribeReasons(*c, {{.filter = "nl/t", .qos = 1, .no_local = true}}),
            std::vector<uint8_t>{1});
  PublishOk(*c, {.topic = "nl/t", .payload = "mine", .qos = 1});
  EXPECT_TRUE(c->ExpectSilent()) << "[MQTT-3.8.3-3]";
  auto other = Client5("other");
  PublishOk(*other, {.topic = "nl/t", .payload = "theirs"});
  EXPECT_EQ(Receive(*c).payload, "theirs");
}

TEST_F(PublishTest, WithoutNoLocalOwnMessagesDelivered) {
  auto c = Client5("self");
  SubscribeOk(*c, "nl/t", 0);
  c->Send(Publish(kV5, {.topic = "nl/t", .payload = "mine"}));
  EXPECT_EQ(Receive(*c).payload, "mine");
}

TEST_F(PublishTest, V5RetainAsPublishedKeepsRetainFlag) {
  auto rap = Client5("rap");
  auto plain = Client5("plain");
  EXPECT_EQ(SubscribeReasons(*rap, {{.filter = "rap/t", .qos = 0, .rap = true}}),
            std::vector<uint8_t>{0});
  SubscribeOk(*plain, "rap/t", 0);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "rap/t", .payload = "r", .retain = true});
  EXPECT_TRUE(Receive(*rap).retain) << "retain as published";
  EXPECT_FALSE(Receive(*plain).retain) << "[MQTT-3.3.1-9]: live messages have retain 0";
}

TEST_F(PublishTest, V5DeniedPublishGetsPuback87AndIsDropped) {
  START_BROKER({"--deny-publish=locked/#"});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "locked/#", 1);
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "locked/a", .payload = "x", .qos = 1, .id = 4}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPuback, 4, 0x87)) << "Not authorized";
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(PublishTest, V311DeniedPublishIsAckedAndDropped) {
  START_BROKER({"--deny-publish=locked/#"});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "locked/#", 1);
  auto pub = Client311("pub");
  pub->Send(Publish(kV311, {.topic = "locked/a", .payload = "x", .qos = 1, .id = 4}));
  // [MQTT-3.3.5-2]: either a normal acknowledgement or closing the connection.
  Bytes reply = pub->Read();
  if (!reply.empty()) EXPECT_EQ(Hex(reply), "40 02 00 04");
  EXPECT_TRUE(sub->ExpectSilent());
}

}  // namespace
}  // namespace sluice::conformance
