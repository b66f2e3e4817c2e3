// SUBSCRIBE / UNSUBSCRIBE and topic matching: spec 3.1.1 sections 3.8-3.11 and 4.7,
// 5.0 sections 3.8-3.11 and 4.7.
#include <algorithm>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

class SubscribeTest : public ConformanceTest {
 protected:
  // Subscribes `filter`, publishes to every topic in `topics` from another client, and returns
  // the topics the subscriber received (sorted), after a silence window.
  std::vector<std::string> Matches(const std::string& filter,
                                   const std::vector<std::string>& topics, int expected) {
    auto sub = Client311("matcher");
    SubscribeOk(*sub, filter, 0);
    auto pub = Client311("publisher");
    for (const std::string& t : topics) PublishOk(*pub, {.topic = t, .payload = "m"});
    std::vector<std::string> got;
    for (int i = 0; i < expected; ++i) got.push_back(Receive(*sub).topic);
    EXPECT_TRUE(sub->ExpectSilent()) << "more messages than expected for " << filter;
    std::sort(got.begin(), got.end());
    return got;
  }
  using V = std::vector<std::string>;
};

TEST_F(SubscribeTest, V311SubackGrantsRequestedQos) {
  auto c = Client311("s");
  c->Send(Subscribe(kV311, 1, {{.filter = "a", .qos = 0}, {.filter = "b", .qos = 1},
                               {.filter = "c", .qos = 2}}));
  EXPECT_EQ(Hex(c->Read()), "90 05 00 01 00 01 02");
}

TEST_F(SubscribeTest, V5SubackGrantsRequestedQos) {
  auto c = Client5("s");
  c->Send(Subscribe(kV5, 0x1234, {{.filter = "a", .qos = 0}, {.filter = "b", .qos = 1},
                                  {.filter = "c", .qos = 2}}));
  EXPECT_EQ(Hex(c->Read()), "90 06 12 34 00 00 01 02");
}

TEST_F(SubscribeTest, PlusMatchesExactlyOneLevel) {
  EXPECT_EQ(Matches("a/+/c", {"a/b/c", "a/b/d", "a/b/c/d", "a//c", "a/c", "x/b/c"}, 2),
            (V{"a//c", "a/b/c"}));
}

TEST_F(SubscribeTest, PlusAloneAndTrailing) {
  EXPECT_EQ(Matches("a/+", {"a", "a/", "a/b", "a/b/c"}, 2), (V{"a/", "a/b"}));
}

TEST_F(SubscribeTest, HashMatchesParentAndAllChildren) {
  EXPECT_EQ(Matches("a/#", {"a", "a/b", "a/b/c", "b/a", "ab", "ab/c"}, 3),
            (V{"a", "a/b", "a/b/c"}));
}

TEST_F(SubscribeTest, HashAloneMatchesEverythingButDollarTopics) {
  EXPECT_EQ(Matches("#", {"x", "x/y", "/lead", "$data/x", "$SYS/fake"}, 3),
            (V{"/lead", "x", "x/y"}));
}

TEST_F(SubscribeTest, PlusAtFirstLevelDoesNotMatchDollarTopics) {
  EXPECT_EQ(Matches("+/x", {"$data/x", "d/x"}, 1), (V{"d/x"}));
}

TEST_F(SubscribeTest, DollarFilterMatchesDollarTopics) {
  EXPECT_EQ(Matches("$data/+", {"$data/x", "data/x"}, 1), (V{"$data/x"}));
}

TEST_F(SubscribeTest, TopicsAreCaseSensitiveAndKeepSpaces) {
  EXPECT_EQ(Matches("a b/C", {"a b/C", "a b/c", "A b/C"}, 1), (V{"a b/C"}));
}

TEST_F(SubscribeTest, V5InvalidFiltersRefusedWith8F) {
  SKIP_UNDER_MOSQUITTO("closes the connection on an invalid filter instead of SUBACK 0x8F");
  auto c = Client5("s");
  for (const char* bad : {"a/#/b", "a+", "a/b#", "#/a", "a/+b"}) {
    EXPECT_EQ(SubscribeReasons(*c, {{.filter = bad, .qos = 1}}), std::vector<uint8_t>{0x8F})
        << bad;
  }
  // A valid filter beside an invalid one is still granted.
  EXPECT_EQ(SubscribeReasons(*c, {{.filter = "ok/+", .qos = 1}, {.filter = "a+", .qos = 1}}),
            (std::vector<uint8_t>{0x01, 0x8F}));
}

TEST_F(SubscribeTest, V311InvalidFiltersRefusedWith80) {
  SKIP_UNDER_MOSQUITTO("closes the connection on an invalid filter instead of SUBACK 0x80");
  auto c = Client311("s");
  for (const char* bad : {"a/#/b", "a+", "a/b#"}) {
    EXPECT_EQ(SubscribeReasons(*c, {{.filter = bad, .qos = 0}}), std::vector<uint8_t>{0x80})
        << bad;
  }
}

TEST_F(SubscribeTest, V5UnsubackReasonCodes) {
  auto c = Client5("u");
  SubscribeOk(*c, "a", 1);
  c->Send(Unsubscribe(kV5, 2, {"a", "never-subscribed"}));
  EXPECT_EQ(Hex(c->Read()), "B0 05 00 02 00 00 11") << "Success, No subscription existed";
}

TEST_F(SubscribeTest, V311UnsubscribeStopsDelivery) {
  auto c = Client311("u");
  SubscribeOk(*c, "u/t", 0);
  c->Send(Unsubscribe(kV311, 7, {"u/t"}));
  EXPECT_EQ(Hex(c->Read()), "B0 02 00 07");
  auto pub = Client311("p");
  PublishOk(*pub, {.topic = "u/t", .payload = "x"});
  EXPECT_TRUE(c->ExpectSilent());
}

TEST_F(SubscribeTest, UnsubscribeMatchesFilterTextNotTopics) {
  // Unsubscribing "u/b" does not remove "u/+": filters compare character by character.
  auto c = Client5("u");
  SubscribeOk(*c, "u/+", 0);
  c->Send(Unsubscribe(kV5, 9, {"u/b"}));
  EXPECT_EQ(Hex(c->Read()), "B0 04 00 09 00 11");
  auto pub = Client5("p");
  PublishOk(*pub, {.topic = "u/b", .payload = "x"});
  EXPECT_EQ(Receive(*c).topic, "u/b");
}

TEST_F(SubscribeTest, V5DeniedSubscriptionGets87) {
  START_BROKER({"--deny-subscribe=secret/#,admin"});
  auto c = Client5("s");
  EXPECT_EQ(SubscribeReasons(*c, {{.filter = "secret/#", .qos = 1}, {.filter = "open", .qos = 1},
                                  {.filter = "admin", .qos = 0}}),
            (std::vector<uint8_t>{0x87, 0x01, 0x87}));
}

TEST_F(SubscribeTest, V311DeniedSubscriptionGets80) {
  START_BROKER({"--deny-subscribe=secret/#"});
  auto c = Client311("s");
  EXPECT_EQ(SubscribeReasons(*c, {{.filter = "secret/#", .qos = 1}, {.filter = "open", .qos = 2}}),
            (std::vector<uint8_t>{0x80, 0x02}));
}

TEST_F(SubscribeTest, ResubscribeReplacesQos) {
  // [MQTT-3.8.4-3]: an identical filter replaces the subscription; one copy, at the new QoS.
  auto c = Client311("r");
  SubscribeOk(*c, "r/t", 2);
  SubscribeOk(*c, "r/t", 1);
  auto pub = Client311("p");
  PublishOk(*pub, {.topic = "r/t", .payload = "x", .qos = 2});
  Packet p = Receive(*c);
  EXPECT_EQ(p.qos, 1);
  EXPECT_TRUE(c->ExpectSilent()) << "one copy only";
}

TEST_F(SubscribeTest, V5SubscriptionIdentifierDelivered) {
  auto c = Client5("sid");
  SubscribeOk(*c, "sid/+", 0, Properties().Add(kSubscriptionId, 300));
  auto pub = Client5("p");
  PublishOk(*pub, {.topic = "sid/x", .payload = "x"});
  Packet p = Receive(*c);
  EXPECT_EQ(p.props.AllNums(kSubscriptionId), std::vector<uint32_t>{300});
}

TEST_F(SubscribeTest, V5SubscriptionIdentifierZeroIsProtocolError) {
  SKIP_UNDER_MOSQUITTO("sends DISCONNECT 0x81 instead of 0x82");
  auto c = Client5("sid0");
  c->Send(Subscribe(kV5, 1, {{.filter = "a", .qos = 0}}, Properties().Add(kSubscriptionId, 0)));
  ExpectClose(*c, 0x82);
}

}  // namespace
}  // namespace sluice::conformance
