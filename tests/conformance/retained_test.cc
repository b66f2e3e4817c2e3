// Retained messages: spec 3.1.1 section 3.3.1.3, 5.0 sections 3.3.1.3 and 3.8.3.1 (Retain
// Handling, Retain As Published).
#include <algorithm>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

using RetainedTest = ConformanceTest;

TEST_F(RetainedTest, V311RetainedDeliveredOnSubscribeWithRetainFlag) {
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "r/1", .payload = "x", .retain = true});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "r/#", 0);
  EXPECT_EQ(Hex(sub->Read()), "31 06 00 03 72 2F 31 78");
}

TEST_F(RetainedTest, V5RetainedDeliveredOnSubscribeWithRetainFlag) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "r/1", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "r/1", 1);
  Packet p = Receive(*sub);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.qos, 1);
  EXPECT_EQ(p.payload, "x");
}

TEST_F(RetainedTest, LiveMessageHasRetainZero) {
  auto sub = Client311("sub");
  SubscribeOk(*sub, "r/live", 0);
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "r/live", .payload = "x", .retain = true});
  EXPECT_EQ(Hex(sub->Read()), "30 09 00 06 72 2F 6C 69 76 65 78") << "[MQTT-3.3.1-9]";
}

TEST_F(RetainedTest, EmptyPayloadDeletesRetained) {
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "r/del", .payload = "x", .retain = true});
  PublishOk(*pub, {.topic = "r/del", .payload = "", .qos = 1, .retain = true});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "r/del", 0);
  EXPECT_TRUE(sub->ExpectSilent()) << "[MQTT-3.3.1-10]: nothing retained any more";
}

TEST_F(RetainedTest, NewRetainedReplacesOld) {
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "r/rep", .payload = "old", .retain = true});
  PublishOk(*pub, {.topic = "r/rep", .payload = "new", .qos = 1, .retain = true});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "r/rep", 0);
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"new"});
}

TEST_F(RetainedTest, WildcardSubscribeGetsEveryMatchingRetained) {
  auto pub = Client311("pub");
  for (const char* t : {"w/a", "w/b", "w/c/d", "x/a"})
    PublishOk(*pub, {.topic = t, .payload = t, .qos = 1, .retain = true});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "w/+", 0);
  std::vector<std::string> got = ReceivePayloads(*sub, 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"w/a", "w/b"}));
}

TEST_F(RetainedTest, RetainedQosDowngradedToSubscription) {
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "r/q", .payload = "x", .qos = 1, .retain = true});
  auto sub0 = Client311("sub0");
  SubscribeOk(*sub0, "r/q", 0);
  EXPECT_EQ(Hex(sub0->Read()), "31 06 00 03 72 2F 71 78") << "QoS 0, retain 1";
  auto sub2 = Client311("sub2");
  SubscribeOk(*sub2, "r/q", 2);
  Packet p = Receive(*sub2);
  EXPECT_EQ(p.qos, 1) << "the message's own QoS when the subscription's is higher";
  EXPECT_TRUE(p.retain);
}

TEST_F(RetainedTest, V5RetainHandling0SendsOnEverySubscribe) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "rh/0", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client5("sub");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(SubscribeReasons(*sub, {{.filter = "rh/0", .qos = 0, .rh = 0}}),
              std::vector<uint8_t>{0});
    EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"x"}) << "subscribe #" << i;
  }
}

TEST_F(RetainedTest, V5RetainHandling1SendsOnlyForNewSubscription) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "rh/1", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client5("sub");
  EXPECT_EQ(SubscribeReasons(*sub, {{.filter = "rh/1", .qos = 0, .rh = 1}}),
            std::vector<uint8_t>{0});
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"x"});
  EXPECT_EQ(SubscribeReasons(*sub, {{.filter = "rh/1", .qos = 0, .rh = 1}}),
            std::vector<uint8_t>{0});
  EXPECT_TRUE(sub->ExpectSilent()) << "the subscription already existed";
}

TEST_F(RetainedTest, V5RetainHandling2NeverSends) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "rh/2", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client5("sub");
  EXPECT_EQ(SubscribeReasons(*sub, {{.filter = "rh/2", .qos = 0, .rh = 2}}),
            std::vector<uint8_t>{0});
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(RetainedTest, V5RetainedOnSubscribeHasRetainFlagRegardlessOfRap) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "r/rap", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client5("sub");
  EXPECT_EQ(SubscribeReasons(*sub, {{.filter = "r/rap", .qos = 0, .rap = false}}),
            std::vector<uint8_t>{0});
  EXPECT_TRUE(Receive(*sub).retain) << "[MQTT-3.3.1-8]";
}

TEST_F(RetainedTest, V5RetainedKeepsProperties) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "r/props", .payload = "{}", .qos = 1, .retain = true,
                   .props = Properties().Add(kContentType, "application/json").AddUser("a", "1")});
  auto sub = Client5("sub");
  SubscribeOk(*sub, "r/props", 1);
  Packet p = Receive(*sub);
  EXPECT_EQ(p.props.Str(kContentType), "application/json");
  EXPECT_EQ(p.props.UserProperties(),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
}

TEST_F(RetainedTest, DollarRetainedNotMatchedByHash) {
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "$data/r", .payload = "x", .qos = 1, .retain = true});
  auto sub = Client311("sub");
  SubscribeOk(*sub, "#", 0);
  EXPECT_TRUE(sub->ExpectSilent());
  SubscribeOk(*sub, "$data/#", 0);
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace sluice::conformance
