// Sessions: spec 3.1.1 sections 3.1.2.4 and 4.4, 5.0 sections 3.1.2.4, 3.1.2.11.2 (Session
// Expiry Interval), 4.1 and 4.4 (message delivery retry).
#include <optional>
#include <thread>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

class SessionTest : public ConformanceTest {
 protected:
  // A 5.0 connection with a 60 s session expiry (Clean Start 0 unless `clean`).
  std::unique_ptr<RawClient> Persistent5(const std::string& id, bool clean = false,
                                         uint32_t expiry_s = 60) {
    return Client5(id, Properties().Add(kSessionExpiry, expiry_s), clean);
  }
  void Leave(RawClient& c) {
    c.Send(Disconnect(c.version()));
    EXPECT_TRUE(c.ExpectClosed());
  }
};

TEST_F(SessionTest, V311QueuedMessagesDeliveredOnReconnect) {
  {
    auto sub = Client311("sub", false);
    SubscribeOk(*sub, "s/q", 1);
    Leave(*sub);
  }
  auto pub = Client311("pub");
  for (const char* m : {"one", "two", "three"}) PublishOk(*pub, {.topic = "s/q", .payload = m, .qos = 1});
  auto sub = Open(kV311);
  sub->Send(Connect({.version = kV311, .client_id = "sub", .clean = false}));
  EXPECT_EQ(Hex(sub->Read()), "20 02 01 00");
  EXPECT_EQ(ReceivePayloads(*sub, 3), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(SessionTest, V5QueuedMessagesDeliveredOnReconnect) {
  {
    auto sub = Persistent5("sub");
    SubscribeOk(*sub, "s/q", 2);
    Leave(*sub);
  }
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "s/q", .payload = "one", .qos = 1});
  PublishOk(*pub, {.topic = "s/q", .payload = "two", .qos = 2});
  auto sub = Persistent5("sub");
  EXPECT_TRUE(sub->connack.session_present);
  EXPECT_EQ(ReceivePayloads(*sub, 2), (std::vector<std::string>{"one", "two"}));
}

TEST_F(SessionTest, UnackedQos1ResentWithDupOnReconnect) {
  uint16_t first_id = 0;
  {
    auto sub = Client311("sub", false);
    SubscribeOk(*sub, "s/dup", 1);
    auto pub = Client311("pub");
    PublishOk(*pub, {.topic = "s/dup", .payload = "again", .qos = 1});
    Packet p = Receive(*sub, /*ack=*/false);
    EXPECT_FALSE(p.dup);
    first_id = p.id;
    sub->Drop();  // no PUBACK
  }
  auto sub = Client311("sub", false);
  EXPECT_TRUE(sub->connack.session_present);
  Packet p = Receive(*sub);
  EXPECT_EQ(p.payload, "again");
  EXPECT_TRUE(p.dup) << "[MQTT-4.4.0-1] / [MQTT-3.3.1-1]: DUP=1 on re-delivery";
  EXPECT_EQ(p.id, first_id) << "original packet identifier";
  EXPECT_EQ(p.qos, 1);
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(SessionTest, V5UnackedQos2PublishResentWithDup) {
  {
    auto sub = Persistent5("sub");
    SubscribeOk(*sub, "s/dup2", 2);
    auto pub = Client5("pub");
    PublishOk(*pub, {.topic = "s/dup2", .payload = "x", .qos = 2});
    Receive(*sub, /*ack=*/false);
    sub->Drop();  // no PUBREC
  }
  auto sub = Persistent5("sub");
  Packet p = Receive(*sub);
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.qos, 2);
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(SessionTest, Qos2PubrelResumedAfterReconnect) {
  for (Version v : {kV311, kV5}) {
    uint16_t id = 0;
    std::string sub_id = v == kV5 ? "sub5" : "sub311";
    Properties expiry = v == kV5 ? Properties().Add(kSessionExpiry, 60) : Properties();
    {
      auto sub = Client({.version = v, .client_id = sub_id, .clean = false, .props = expiry});
      SubscribeOk(*sub, "s/rel", 2);
      auto pub = Client({.version = v, .client_id = "pub"});
      PublishOk(*pub, {.topic = "s/rel", .payload = "x", .qos = 2});
      Packet p = Receive(*sub, /*ack=*/false);
      id = p.id;
      sub->Send(Ack(v, kPubrec, id));
      EXPECT_TRUE(IsAck(v, sub->Read(), kPubrel, id));
      sub->Drop();  // no PUBCOMP
    }
    auto sub = Client({.version = v, .client_id = sub_id, .clean = false, .props = expiry});
    EXPECT_TRUE(sub->connack.session_present);
    EXPECT_TRUE(IsAck(v, sub->Read(), kPubrel, id)) << "[MQTT-4.4.0-1]: PUBREL re-sent, not PUBLISH";
    sub->Send(Ack(v, kPubcomp, id));
    EXPECT_TRUE(sub->ExpectSilent());
  }
}

TEST_F(SessionTest, InboundQos2StateSurvivesReconnect) {
  auto sub = Client311("watch");
  SubscribeOk(*sub, "s/in", 2);
  {
    auto pub = Client311("pub", false);
    pub->Send(Publish(kV311, {.topic = "s/in", .payload = "x", .qos = 2, .id = 11}));
    EXPECT_EQ(Hex(pub->Read()), "50 02 00 0B");
    pub->Drop();
  }
  auto pub = Client311("pub", false);
  pub->Send(Publish(kV311, {.topic = "s/in", .payload = "x", .qos = 2, .dup = true, .id = 11}));
  EXPECT_EQ(Hex(pub->Read()), "50 02 00 0B");
  pub->Send(Ack(kV311, kPubrel, 11));
  EXPECT_EQ(Hex(pub->Read()), "70 02 00 0B");
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"x"}) << "exactly once";
}

TEST_F(SessionTest, V5SessionGoneAfterExpiry) {
  {
    auto sub = Persistent5("brief", false, 1);
    SubscribeOk(*sub, "s/exp", 1);
    Leave(*sub);
  }
  std::this_thread::sleep_for(2200ms);  // let the 1 s session expiry run out
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "s/exp", .payload = "x", .qos = 1});
  auto sub = Persistent5("brief", false, 1);
  EXPECT_FALSE(sub->connack.session_present) << "the session expired";
  EXPECT_TRUE(sub->ExpectSilent()) << "no subscription survived";
}

TEST_F(SessionTest, V5SessionKeptWithinExpiry) {
  {
    auto sub = Persistent5("kept", false, 60);
    SubscribeOk(*sub, "s/kept", 1);
    Leave(*sub);
  }
  auto sub = Persistent5("kept", false, 60);
  EXPECT_TRUE(sub->connack.session_present);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "s/kept", .payload = "x", .qos = 1});
  EXPECT_EQ(ReceivePayloads(*sub, 1), std::vector<std::string>{"x"}) << "subscription kept";
}

TEST_F(SessionTest, V5CleanStartDiscardsSession) {
  {
    auto sub = Persistent5("cs");
    SubscribeOk(*sub, "s/cs", 1);
    Leave(*sub);
  }
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "s/cs", .payload = "queued", .qos = 1});
  auto sub = Persistent5("cs", /*clean=*/true);
  EXPECT_FALSE(sub->connack.session_present);
  PublishOk(*pub, {.topic = "s/cs", .payload = "live", .qos = 1});
  EXPECT_TRUE(sub->ExpectSilent()) << "neither queued messages nor the subscription survive";
}

TEST_F(SessionTest, V311CleanSessionDiscardsSession) {
  {
    auto sub = Client311("cs", false);
    SubscribeOk(*sub, "s/cs", 1);
    Leave(*sub);
  }
  auto sub = Client311("cs", true);
  EXPECT_FALSE(sub->connack.session_present);
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "s/cs", .payload = "x", .qos = 1});
  EXPECT_TRUE(sub->ExpectSilent());
}

TEST_F(SessionTest, V5DisconnectCanShortenSessionExpiry) {
  {
    auto sub = Persistent5("shorten", false, 60);
    SubscribeOk(*sub, "s/sh", 1);
    sub->Send(Disconnect(kV5, 0, Properties().Add(kSessionExpiry, 0)));
    EXPECT_TRUE(sub->ExpectClosed());
  }
  auto sub = Persistent5("shorten", false, 60);
  EXPECT_FALSE(sub->connack.session_present) << "DISCONNECT set the expiry to 0";
}

TEST_F(SessionTest, V5DisconnectSettingExpiryAfterZeroIsProtocolError) {
  auto c = Client5("zero");  // session expiry 0 in CONNECT
  c->Send(Disconnect(kV5, 0, Properties().Add(kSessionExpiry, 30)));
  ExpectClose(*c, 0x82);  // [MQTT-3.14.2-2]
}

TEST_F(SessionTest, OfflineQueueIsBounded) {
  START_BROKER({"--max-queued-messages=2"});
  {
    auto sub = Client311("slow", false);
    SubscribeOk(*sub, "s/lim", 1);
    Leave(*sub);
  }
  auto pub = Client311("pub");
  for (int i = 0; i < 6; ++i) PublishOk(*pub, {.topic = "s/lim", .payload = "m", .qos = 1});
  auto sub = Client311("slow", false);
  int received = 0;
  while (!sub->ReadDecoded(kSilence).payload.empty()) ++received;
  EXPECT_GE(received, 1);
  EXPECT_LE(received, 2) << "--max-queued-messages=2";
}

TEST_F(SessionTest, OfflineQueueFullDropIsLoggedWithClientIdAndCounted) {
  // README: a drop beyond max_queued_messages is "counted and logged, never silent". The log
  // names the session, at its 1st, 2nd, 4th, 8th... drop (a flood cannot flood the log).
  if (UnderMosquitto()) GTEST_SKIP() << "Sluice's log and metrics";
  START_BROKER({"--max-queued-messages=2", "--sys-interval-s=0"}, /*capture_log=*/true);
  ASSERT_NE(broker_->metrics_port(), 0);
  {
    auto sub = Client311("slow-sub", false);
    SubscribeOk(*sub, "s/full", 1);
    Leave(*sub);
  }
  {
    auto roomy = Client311("roomy-sub", false);  // offline too, but its queue never fills
    SubscribeOk(*roomy, "s/other", 1);
    Leave(*roomy);
  }
  auto pub = Client311("pub");
  PublishOk(*pub, {.topic = "s/other", .payload = "m", .qos = 1});
  for (int i = 0; i < 6; ++i) PublishOk(*pub, {.topic = "s/full", .payload = "m", .qos = 1});
  // 6 messages, 2 queued: drops 1..4, logged at the 1st, 2nd and 4th.
  const std::string what = "session queue full, message dropped";
  std::string first = AwaitLogLine({what, "client_id=slow-sub ", "dropped_total=1"});
  EXPECT_NE(first, "") << "no log line for the first drop";
  EXPECT_NE(first.find("WARN"), std::string::npos) << first;
  EXPECT_NE(AwaitLogLine({what, "client_id=slow-sub ", "dropped_total=2"}), "");
  std::string fourth = AwaitLogLine({what, "client_id=slow-sub ", "dropped_total=4"});
  EXPECT_NE(fourth, "") << "no log line for the fourth drop; log:\n" << BrokerLog();
  EXPECT_NE(fourth.find("queued=2"), std::string::npos) << fourth;
  EXPECT_EQ(AwaitLogLine({what, "dropped_total=3"}, 0ms), "") << "logged at powers of two";
  EXPECT_EQ(AwaitLogLine({what, "roomy-sub"}, 0ms), "") << "only the full session is named";
  // The counter agrees (relaxed counters of another thread: bounded poll).
  const std::string metric = "sluice_messages_dropped_total{reason=\"queue_full\"}";
  std::optional<double> dropped;
  for (int i = 0; i < 100 && dropped.value_or(0) < 4; ++i) {
    if (i) std::this_thread::sleep_for(20ms);
    dropped = ScrapeMetric(broker_->metrics_port(), metric);
  }
  EXPECT_EQ(dropped, 4.0) << metric;
}

// Issue 12: a persistent session's subscriptions are durable before SUBACK. When the session
// record cannot be saved — here it outgrows what the log takes (max_packet_size + 64 KiB) —
// the new subscription is refused (0x80), taken back (nothing is delivered for it), counted
// and logged with the client id; the session's other subscriptions go on.
TEST_F(SessionTest, SubscriptionWhoseSessionRecordCannotBeSavedIsRefused) {
  if (UnderMosquitto()) GTEST_SKIP() << "Sluice's commit log";
  START_BROKER({"--max-packet-size=70000"}, /*capture_log=*/true);
  for (Version v : {kV5, kV311}) {
    const std::string id = v == kV5 ? "big-record-5" : "big-record-3";
    auto sub = v == kV5 ? Persistent5(id) : Client311(id, false);
    const std::string f1(60000, 'a'), f2(60000, 'b'), f3(60000, 'c');
    EXPECT_EQ(SubscribeReasons(*sub, {{f1, 1}}), std::vector<uint8_t>{0x01});
    EXPECT_EQ(SubscribeReasons(*sub, {{f2, 1}}), std::vector<uint8_t>{0x01});
    EXPECT_EQ(SubscribeReasons(*sub, {{f3, 1}}), std::vector<uint8_t>{0x80})
        << "the record with three 60 KB filters is over the log's 134 KB record limit";
    EXPECT_NE(AwaitLogLine({"saving a session failed", "client_id=" + id, "SUBSCRIBE"}), "");
    auto pub = Client5(id + "-pub");
    PublishOk(*pub, {.topic = f3, .payload = "refused", .qos = 1});
    PublishOk(*pub, {.topic = f1, .payload = "kept", .qos = 1});
    Packet p = Receive(*sub);
    EXPECT_EQ(p.payload, "kept") << "nothing for the refused filter, and it came first";
    EXPECT_TRUE(sub->ExpectSilent());
  }
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_session_save_failures_total"), 2.0);
}

}  // namespace
}  // namespace sluice::conformance
