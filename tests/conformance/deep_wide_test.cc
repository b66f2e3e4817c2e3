// Deep and wide input (issue 19): topics, filters and property blocks as large as the packet
// format allows, from one anonymous client.
//
// Part 1 replays the reported crashes with the limit off (the former default,
// --max-topic-levels=0): a retained PUBLISH to a 65,536-level topic twice, its deletion and an
// exact SUBSCRIBE to it; SUBSCRIBE to 65,001 empty levels and a PUBLISH to them. Each used to
// kill the broker (SIGSEGV in a recursive trie walk). The fixture's TearDown then checks the
// broker is alive, serves a new client and exits 0 on SIGTERM.
//
// Part 2 checks the default limits and the spec's answers beyond them: max_topic_levels (128)
// for PUBLISH, SUBSCRIBE and the will topic, max_user_properties (1024) — counted in /metrics
// and logged with the client id.
#include <string>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

using DeepWideTest = ConformanceTest;

// `levels` levels, each `level` ("" for a topic made only of '/').
std::string Deep(size_t levels, const std::string& level = "") {
  std::string t = level;
  for (size_t i = 1; i < levels; ++i) t += "/" + level;
  return t;
}

void ExpectPubackReason(RawClient& c, uint16_t id, uint8_t reason) {
  EXPECT_TRUE(IsAck(c.version(), c.Read(), kPuback, id, reason));
}

// --- part 1: the reported crashes, limit off ---------------------------------------------

TEST_F(DeepWideTest, RetainedTopicOf65536LevelsSetReplacedMatchedAndDeleted) {
  SKIP_UNDER_MOSQUITTO("mosquitto refuses topics this deep");
  START_BROKER({"--max-topic-levels=0"});
  const std::string topic(65535, '/');  // 65,536 empty levels: legal by size
  auto pub = Client5("deep-pub");
  PublishOk(*pub, {.topic = topic, .payload = "one", .qos = 1, .retain = true});
  PublishOk(*pub, {.topic = topic, .payload = "two", .qos = 1, .retain = true});  // replace
  auto exact = Client5("deep-exact");
  SubscribeOk(*exact, topic, 1);
  Packet p = Receive(*exact);
  EXPECT_EQ(p.topic, topic);
  EXPECT_EQ(p.payload, "two");
  EXPECT_TRUE(p.retain);
  auto wild = Client5("deep-wild");
  SubscribeOk(*wild, Deep(30'000, "+") + "/#", 1);  // a deep wildcard walk of the same trie
  EXPECT_EQ(Receive(*wild).payload, "two");
  PublishOk(*pub, {.topic = topic, .payload = "", .qos = 1, .retain = true});  // delete
  auto after = Client5("deep-after");
  SubscribeOk(*after, topic, 1);
  EXPECT_TRUE(after->ExpectSilent()) << "the retained message was deleted";
  // Still serving: a round trip on an ordinary topic.
  SubscribeOk(*after, "plain/t", 1);
  PublishOk(*pub, {.topic = "plain/t", .payload = "alive", .qos = 1});
  EXPECT_EQ(Receive(*after).payload, "alive");
}

TEST_F(DeepWideTest, SubscribeTo65001EmptyLevelsThenPublishToThem) {
  SKIP_UNDER_MOSQUITTO("mosquitto refuses topics this deep");
  START_BROKER({"--max-topic-levels=0"});
  const std::string filter(65000, '/');  // "/" repeated 65,000 times: 65,001 levels
  auto sub = Client5("deep-sub");
  SubscribeOk(*sub, filter, 1);
  SubscribeOk(*sub, Deep(65'000) + "/+", 1);  // and a '+' at the deepest level
  auto pub = Client5("deep-pub");
  PublishOk(*pub, {.topic = filter, .payload = "x", .qos = 1});
  Packet p = Receive(*sub);
  EXPECT_EQ(p.topic, filter);
  EXPECT_EQ(p.payload, "x");
  EXPECT_TRUE(sub->ExpectSilent()) << "one delivery per client, however many filters match";
  // Unsubscribing walks and prunes the same path.
  sub->Send(Unsubscribe(kV5, 7, {filter}));
  Packet unsuback = sub->ReadDecoded();
  EXPECT_EQ(unsuback.type, kUnsuback);
  EXPECT_EQ(unsuback.reasons, std::vector<uint8_t>{0x00});
}

TEST_F(DeepWideTest, V311DeepRetainedAndSubscribeKeepTheBrokerUp) {
  SKIP_UNDER_MOSQUITTO("mosquitto refuses topics this deep");
  START_BROKER({"--max-topic-levels=0"});
  const std::string topic(65535, '/');
  auto pub = Client311("deep311-pub");
  PublishOk(*pub, {.topic = topic, .payload = "r", .qos = 1, .retain = true});
  PublishOk(*pub, {.topic = topic, .payload = "r2", .qos = 1, .retain = true});
  auto sub = Client311("deep311-sub");
  SubscribeOk(*sub, "#", 1);
  EXPECT_EQ(Receive(*sub).payload, "r2");
}

// --- part 2: the default limits --------------------------------------------------------

TEST_F(DeepWideTest, DefaultLimitRefusesDeepPublishWith0x90AndKeepsTheConnection) {
  SKIP_UNDER_MOSQUITTO("mosquitto disconnects (0x81) instead of answering 0x90");
  START_BROKER({}, true);
  auto sub = Client5("limit-sub");
  SubscribeOk(*sub, "#", 1);
  auto pub = Client5("deep-pub-5");
  // 128 levels pass, 129 do not.
  PublishOk(*pub, {.topic = Deep(128, "l"), .payload = "ok", .qos = 1});
  EXPECT_EQ(Receive(*sub).payload, "ok");
  pub->Send(Publish(kV5, {.topic = Deep(129, "l"), .payload = "no", .qos = 1, .id = 11}));
  ExpectPubackReason(*pub, 11, 0x90);
  pub->Send(Publish(kV5, {.topic = Deep(129, "l"), .payload = "no", .qos = 2, .id = 12}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPubrec, 12, 0x90));
  EXPECT_TRUE(sub->ExpectSilent()) << "refused messages are not delivered";
  EXPECT_NE(AwaitLogLine({"publish refused", "client_id=deep-pub-5"}), "");
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_topics_refused_limit_total"), 2.0);
  PublishOk(*pub, {.topic = "after", .payload = "still", .qos = 1});
  EXPECT_EQ(Receive(*sub).payload, "still");
}

TEST_F(DeepWideTest, DefaultLimitRefusesDeepFilters) {
  SKIP_UNDER_MOSQUITTO("mosquitto disconnects instead of refusing the filter");
  START_BROKER({});
  auto c5 = Client5("deep-sub-5");
  EXPECT_EQ(SubscribeReasons(*c5, {{Deep(129, "+"), 1}, {Deep(128, "+"), 1}}),
            (std::vector<uint8_t>{0x8F, 0x01}));
  // A $share/GROUP/ prefix is not part of the filter's levels.
  EXPECT_EQ(SubscribeReasons(*c5, {{"$share/g/" + Deep(128, "a"), 1}}),
            std::vector<uint8_t>{0x01});
  auto c3 = Client311("deep-sub-3");
  EXPECT_EQ(SubscribeReasons(*c3, {{Deep(129, "a"), 1}, {"ok", 0}}),
            (std::vector<uint8_t>{0x80, 0x00}));
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_topics_refused_limit_total"), 2.0);
}

TEST_F(DeepWideTest, V311DeepPublishIsAcknowledgedAndDropped) {
  SKIP_UNDER_MOSQUITTO("mosquitto disconnects");
  START_BROKER({});
  auto sub = Client311("drop-sub");
  SubscribeOk(*sub, "#", 1);
  auto pub = Client311("drop-pub");
  // MQTT 3.1.1 has no negative PUBACK: a refused PUBLISH is acknowledged (or the connection
  // closed, 3.3.5); Sluice acknowledges and drops it, like an ACL refusal.
  pub->Send(Publish(kV311, {.topic = Deep(200, "x"), .payload = "no", .qos = 1, .id = 3}));
  ExpectPubackReason(*pub, 3, 0x00);
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(DeepWideTest, DeepWillTopicRefusesTheConnect) {
  SKIP_UNDER_MOSQUITTO("mosquitto answers differently");
  START_BROKER({}, true);
  auto c = Open(kV5);
  ConnectSpec spec{.version = kV5, .client_id = "deep-will"};
  spec.will = Will{.topic = Deep(129, "w"), .payload = "bye"};
  c->Send(Connect(spec));
  Packet ack = c->ReadDecoded();
  EXPECT_EQ(ack.type, kConnack);
  EXPECT_EQ(ack.reason, 0x90);
  EXPECT_TRUE(c->ExpectClosed());
  EXPECT_NE(AwaitLogLine({"CONNECT refused", "client_id=deep-will", "will topic"}), "");
  auto c3 = Open(kV311);
  ConnectSpec spec3{.version = kV311, .client_id = "deep-will-3"};
  spec3.will = Will{.topic = Deep(129, "w"), .payload = "bye"};
  c3->Send(Connect(spec3));
  Packet ack3 = c3->ReadDecoded();
  EXPECT_EQ(ack3.type, kConnack);
  EXPECT_NE(ack3.reason, 0x00) << "3.1.1 has no topic code: refused (5, not authorized)";
  EXPECT_TRUE(c3->ExpectClosed());
}

TEST_F(DeepWideTest, TooManyUserPropertiesDisconnectWith0x97) {
  SKIP_UNDER_MOSQUITTO("mosquitto has no user property limit");
  START_BROKER({}, true);
  auto sub = Client5("props-sub");
  SubscribeOk(*sub, "p", 1);
  auto pub = Client5("props-pub");
  Properties ok, over;
  for (int i = 0; i < 1024; ++i) ok.AddUser("k", "v");
  over = ok;
  over.AddUser("k", "v");
  PublishOk(*pub, {.topic = "p", .payload = "ok", .qos = 1, .props = ok});
  Packet got = Receive(*sub);
  EXPECT_EQ(got.payload, "ok");
  EXPECT_EQ(got.props.UserProperties().size(), 1024u);
  pub->Send(Publish(kV5, {.topic = "p", .payload = "over", .qos = 1, .id = 9, .props = over}));
  ExpectDisconnect(*pub, 0x97);
  EXPECT_TRUE(sub->ExpectSilent());
  EXPECT_NE(AwaitLogLine({"closing connection", "client_id=props-pub", "max_user_properties"}),
            "");
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_user_properties_refused_limit_total"),
            1.0);
}

TEST_F(DeepWideTest, UserPropertyLimitIsConfigurable) {
  SKIP_UNDER_MOSQUITTO("mosquitto has no user property limit");
  START_BROKER({"--max-user-properties=0"});
  auto pub = Client5("props-off");
  Properties many;
  for (int i = 0; i < 5000; ++i) many.AddUser("k", "v");
  PublishOk(*pub, {.topic = "p", .payload = "x", .qos = 1, .props = many});
}

}  // namespace
}  // namespace sluice::conformance
