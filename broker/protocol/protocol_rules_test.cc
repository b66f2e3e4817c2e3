// Protocol rules without sockets: CONNECT negotiation, inbound topic aliases and PUBLISH
// checks, the in-order acknowledgement queue. The same rules are tested from outside, over
// real sockets, in tests/conformance/.
#include <vector>

#include "broker/protocol/ack_queue.h"
#include "broker/protocol/connect_rules.h"
#include "broker/protocol/inbound_publish.h"
#include "broker/session/lifecycle.h"
#include "gtest/gtest.h"

namespace sluice::broker::protocol {
namespace {

mqtt::Connect Connect5() {
  mqtt::Connect c;
  c.version = mqtt::Version::k5;
  c.keep_alive_s = 60;
  return c;
}

TEST(ConnectRules, SessionExpiryIsCappedAndTold) {
  ConnectSettings s;
  s.max_session_expiry = 100;
  mqtt::Connect c = Connect5();
  c.properties.session_expiry_interval = 3600;
  Negotiated n = NegotiateConnect(c, s);
  EXPECT_EQ(n.expiry_s, 100u);
  EXPECT_EQ(n.connack.session_expiry_interval, 100u) << "MQTT 5 3.2.2.3.2";
  c.properties.session_expiry_interval = 50;
  n = NegotiateConnect(c, s);
  EXPECT_EQ(n.expiry_s, 50u);
  EXPECT_FALSE(n.connack.session_expiry_interval);
}

TEST(ConnectRules, V311SessionsAreCleanOrNeverExpire) {
  mqtt::Connect c;
  c.version = mqtt::Version::k311;
  c.clean_start = true;
  EXPECT_EQ(NegotiateConnect(c, {}).expiry_s, 0u);
  c.clean_start = false;
  ConnectSettings s;
  s.max_inflight = 7;
  Negotiated n = NegotiateConnect(c, s);
  EXPECT_EQ(n.expiry_s, kSessionNeverExpires);
  EXPECT_EQ(n.window, 7) << "3.1.1 clients state no Receive Maximum";
  s.server_keep_alive = 10;
  EXPECT_EQ(NegotiateConnect(c, s).keep_alive_s, c.keep_alive_s)
      << "a 3.1.1 client cannot be told another keep alive";
}

TEST(ConnectRules, KeepAliveImposedOrCapped) {
  ConnectSettings s;
  s.max_keep_alive = 30;
  mqtt::Connect c = Connect5();
  Negotiated n = NegotiateConnect(c, s);
  EXPECT_EQ(n.keep_alive_s, 30);
  EXPECT_EQ(n.connack.server_keep_alive, 30);
  c.keep_alive_s = 0;  // "none" is above every cap
  EXPECT_EQ(NegotiateConnect(c, s).keep_alive_s, 30);
  c.keep_alive_s = 20;
  n = NegotiateConnect(c, s);
  EXPECT_EQ(n.keep_alive_s, 20);
  EXPECT_FALSE(n.connack.server_keep_alive);
  s.server_keep_alive = 5;  // imposed wins over the cap
  EXPECT_EQ(NegotiateConnect(c, s).keep_alive_s, 5);
}

TEST(ConnectRules, ClientLimitsAndConnackProperties) {
  ConnectSettings s;
  s.receive_maximum = 50;
  s.topic_alias_maximum = 8;
  s.max_packet_size = 4096;
  mqtt::Connect c = Connect5();
  c.properties.receive_maximum = 3;
  c.properties.maximum_packet_size = 1000;
  c.properties.topic_alias_maximum = 2;
  c.properties.request_problem_information = 0;
  Negotiated n = NegotiateConnect(c, s);
  EXPECT_EQ(n.window, 3);
  EXPECT_EQ(n.client_max_packet_size, 1000u);
  EXPECT_EQ(n.out_alias_max, 2);
  EXPECT_EQ(n.in_alias_max, 8);
  EXPECT_FALSE(n.problem_information);
  EXPECT_EQ(n.connack.receive_maximum, 50);
  EXPECT_EQ(n.connack.maximum_packet_size, 4096u);
  EXPECT_EQ(n.connack.topic_alias_maximum, 8);
  mqtt::Connect defaults = Connect5();
  n = NegotiateConnect(defaults, ConnectSettings{.receive_maximum = 65535});
  EXPECT_EQ(n.window, 65535) << "absent Receive Maximum is 65535";
  EXPECT_FALSE(n.connack.receive_maximum) << "65535 is the default: not sent";
}

mqtt::Publish Pub(std::string topic, std::optional<uint16_t> alias = {}) {
  mqtt::Publish p;
  p.topic = std::move(topic);
  p.properties.topic_alias = alias;
  return p;
}

TEST(InboundPublish, TopicAliasesSetUseAndRefuse) {
  TopicAliases aliases(2);
  mqtt::Publish set = Pub("a/b", 1);
  EXPECT_FALSE(aliases.Resolve(set));
  EXPECT_FALSE(set.properties.topic_alias) << "never forwarded";
  mqtt::Publish use = Pub("", 1);
  EXPECT_FALSE(aliases.Resolve(use));
  EXPECT_EQ(use.topic, "a/b");
  mqtt::Publish unknown = Pub("", 2);
  EXPECT_EQ(aliases.Resolve(unknown).reason, mqtt::reason::kProtocolError);
  mqtt::Publish zero = Pub("x", 0);
  EXPECT_EQ(aliases.Resolve(zero).reason, mqtt::reason::kTopicAliasInvalid);
  mqtt::Publish over = Pub("x", 3);
  EXPECT_EQ(aliases.Resolve(over).reason, mqtt::reason::kTopicAliasInvalid);
  TopicAliases none;
  mqtt::Publish any = Pub("x", 1);
  EXPECT_EQ(none.Resolve(any).reason, mqtt::reason::kTopicAliasInvalid);
}

TEST(InboundPublish, TopicNameSubscriptionIdAndReceiveMaximum) {
  EXPECT_EQ(CheckInboundPublish(Pub("a/+"), mqtt::Version::k5, 0, 10).reason,
            mqtt::reason::kTopicNameInvalid);
  mqtt::Publish with_id = Pub("a");
  with_id.properties.subscription_identifiers = {4};
  EXPECT_EQ(CheckInboundPublish(with_id, mqtt::Version::k5, 0, 10).reason,
            mqtt::reason::kProtocolError);
  mqtt::Publish q2 = Pub("a");
  q2.qos = 2;
  EXPECT_FALSE(CheckInboundPublish(q2, mqtt::Version::k5, 9, 10));
  EXPECT_EQ(CheckInboundPublish(q2, mqtt::Version::k5, 10, 10).reason,
            mqtt::reason::kReceiveMaximumExceeded);
  EXPECT_FALSE(CheckInboundPublish(q2, mqtt::Version::k311, 10, 10)) << "5.0 only";
}

TEST(AckQueue, AcksLeaveInArrivalOrder) {
  AckQueue q;
  bool now = false;
  EXPECT_EQ(q.Add(mqtt::PacketType::kPuback, 1, 0, true, &now), 0u);
  EXPECT_TRUE(now) << "nothing waits before it";
  uint64_t a = q.Add(mqtt::PacketType::kPuback, 2, 0, false, &now);
  EXPECT_FALSE(now);
  uint64_t b = q.Add(mqtt::PacketType::kPubrec, 3, 0, false, &now);
  q.Add(mqtt::PacketType::kPuback, 4, 0x10, true, &now);
  EXPECT_FALSE(now) << "ready, but behind waiting ones";
  EXPECT_EQ(q.waiting(), 2u);
  std::vector<mqtt::Ack> out;
  q.Complete(b, 0, &out);
  EXPECT_TRUE(out.empty()) << "2 still waits";
  q.Complete(a, 0x97, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].packet_id, 2);
  EXPECT_EQ(out[0].reason_code, 0x97);
  EXPECT_EQ(out[1].packet_id, 3);
  EXPECT_EQ(out[2].packet_id, 4);
  EXPECT_EQ(out[2].reason_code, 0x10);
  EXPECT_TRUE(q.empty());
  out.clear();
  q.Complete(a, 0, &out);  // twice: nothing
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(q.Add(mqtt::PacketType::kPuback, 5, 0, true, &now), 4u);
  EXPECT_TRUE(now);
}

}  // namespace
}  // namespace sluice::broker::protocol
