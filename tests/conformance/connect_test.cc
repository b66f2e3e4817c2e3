// CONNECT / CONNACK: spec 3.1.1 section 3.1-3.2, 5.0 section 3.1-3.2 and 4.1 (sessions).
#include <chrono>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

using ConnectTest = ConformanceTest;

TEST_F(ConnectTest, V311ConnackBytes) {
  auto c = Open(kV311);
  c->Send(Connect({.version = kV311, .client_id = "c1"}));
  EXPECT_EQ(Hex(c->Read()), "20 02 00 00");
}

TEST_F(ConnectTest, V311ConnectBytesByHand) {
  // The CONNECT from spec 3.1.1 figure 3.x, written out: "MQTT" level 4, clean session, 60 s.
  auto c = Open(kV311);
  c->Send(FromHex("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 63 31"));
  EXPECT_EQ(Hex(c->Read()), "20 02 00 00");
}

TEST_F(ConnectTest, V5ConnackSuccess) {
  auto c = Open(kV5);
  c->Send(Connect({.version = kV5, .client_id = "c1"}));
  Bytes frame = c->Read();
  Packet p = Decode(kV5, frame);
  EXPECT_EQ(p.error, "") << Hex(frame);
  EXPECT_EQ(Hex(frame.substr(0, 1)), "20");
  EXPECT_EQ(Hex(frame.substr(2, 2)), "00 00") << "session present 0, reason Success";
  EXPECT_FALSE(p.props.Has(kAssignedClientId)) << "the client supplied an id";
}

TEST_F(ConnectTest, V5ConnackAdvertisesConfiguredLimits) {
  START_BROKER({"--receive-maximum=7", "--topic-alias-maximum=5", "--max-packet-size=4096"});
  auto c = Client5("limits");
  EXPECT_EQ(c->connack.props.Num(kReceiveMaximum), 7u);
  EXPECT_EQ(c->connack.props.Num(kTopicAliasMaximum), 5u);
  EXPECT_EQ(c->connack.props.Num(kMaximumPacketSize), 4096u);
}

TEST_F(ConnectTest, PingreqGetsPingresp) {
  for (Version v : {kV311, kV5}) {
    auto c = Client({.version = v, .client_id = "pinger"});
    c->Send(Pingreq());
    EXPECT_EQ(Hex(c->Read()), "D0 00");
  }
}

TEST_F(ConnectTest, V311EmptyClientIdWithCleanSessionAccepted) {
  auto c = Open(kV311);
  c->Send(Connect({.version = kV311, .client_id = "", .clean = true}));
  EXPECT_EQ(Hex(c->Read()), "20 02 00 00");
}

TEST_F(ConnectTest, V5EmptyClientIdGetsAssignedIdentifier) {
  auto c = Client5("");
  auto assigned = c->connack.props.Str(kAssignedClientId);
  ASSERT_TRUE(assigned.has_value()) << "5.0 3.2.2.3.7: MUST return Assigned Client Identifier";
  EXPECT_FALSE(assigned->empty());
  auto other = Client5("");
  EXPECT_NE(other->connack.props.Str(kAssignedClientId), assigned) << "ids must be unique";
}

TEST_F(ConnectTest, V311EmptyClientIdWithoutCleanSessionRefused) {
  auto c = Open(kV311);
  c->Send(Connect({.version = kV311, .client_id = "", .clean = false}));
  EXPECT_EQ(Hex(c->Read()), "20 02 00 02") << "3.1.1 [MQTT-3.1.3-8]: identifier rejected";
  EXPECT_TRUE(c->ExpectClosed());
}

TEST_F(ConnectTest, V5EmptyClientIdWithoutCleanStartGetsAnAssignedId) {
  // 5.0 3.1.3.1 lets the server assign an id whatever Clean Start says; Sluice does, so that
  // the client can resume the session under the assigned id (3.1.1 must refuse, above).
  auto c = Open(kV5);
  c->Send(Connect({.version = kV5, .client_id = "", .clean = false}));
  Packet p = c->ReadDecoded();
  EXPECT_EQ(p.type, kConnack);
  EXPECT_EQ(p.reason, 0x00);
  auto assigned = p.props.Str(kAssignedClientId);
  ASSERT_TRUE(assigned.has_value());
  EXPECT_FALSE(assigned->empty());
}

TEST_F(ConnectTest, V311UnsupportedProtocolLevel) {
  auto c = Open(kV311);
  Bytes connect = Connect({.version = kV311, .client_id = "c1"});
  connect[8] = 0x07;  // protocol level
  c->Send(connect);
  EXPECT_EQ(Hex(c->Read()), "20 02 00 01") << "unacceptable protocol version";
  EXPECT_TRUE(c->ExpectClosed());
}

TEST_F(ConnectTest, UnknownProtocolLevelRefusedInEitherFormat) {
  // Level 6 is neither 3.1.1 nor 5.0; the broker may answer in either format.
  auto c = Open(kV5);
  Bytes connect = Connect({.version = kV5, .client_id = "c1"});
  connect[8] = 0x06;
  c->Send(connect);
  std::string got = Hex(c->Read());
  EXPECT_TRUE(got == "20 02 00 01" || got == "20 03 00 84 00") << got;
  EXPECT_TRUE(c->ExpectClosed());
}

TEST_F(ConnectTest, WrongProtocolNameClosed) {
  auto c = Open(kV311);
  Bytes connect = Connect({.version = kV311, .client_id = "c1"});
  connect[7] = 'X';  // "MQTX"
  c->Send(connect);
  EXPECT_TRUE(c->ExpectClosed());
  for (const Bytes& f : c->skipped()) EXPECT_NE(Hex(f), "20 02 00 00") << "must not accept";
}

TEST_F(ConnectTest, V311SecondConnectIsProtocolError) {
  auto c = Client311("twice");
  c->Send(Connect({.version = kV311, .client_id = "twice"}));
  EXPECT_TRUE(c->ExpectClosed()) << "[MQTT-3.1.0-2]";
}

TEST_F(ConnectTest, V5SecondConnectIsProtocolError) {
  auto c = Client5("twice");
  c->Send(Connect({.version = kV5, .client_id = "twice"}));
  ExpectClose(*c, 0x82);
}

TEST_F(ConnectTest, FirstPacketNotConnectClosed) {
  for (const char* first : {"C0 00", "30 05 00 01 61 68 69", "82 06 00 01 00 01 61 00"}) {
    auto c = Open(kV311);
    c->Send(FromHex(first));
    EXPECT_TRUE(c->ExpectClosed()) << first;
    EXPECT_TRUE(c->skipped().empty()) << first << " got a reply: " << Hex(c->skipped()[0]);
  }
}

TEST_F(ConnectTest, KeepAliveExpiryDisconnects) {
  // 1.5 x the keep alive: a client with keep alive 1 s is cut off between 1 s and ~2 s.
  SKIP_UNDER_MOSQUITTO("checks keep alive only every few seconds (cut off after ~4.8 s)");
  for (Version v : {kV311, kV5}) {
    auto c = Client({.version = v, .client_id = "sleepy", .keep_alive_s = 1});
    auto start = std::chrono::steady_clock::now();
    bool closed = c->ExpectClosed(4000ms);
    auto elapsed_ms = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    ASSERT_TRUE(closed) << "still open after 4 s";
    EXPECT_GE(elapsed_ms, 1000ms) << elapsed_ms.count() << " ms";
    EXPECT_LE(elapsed_ms, 2500ms) << elapsed_ms.count() << " ms";
    if (v == kV5 && !c->skipped().empty()) {
      EXPECT_TRUE(IsDisconnect(c->skipped()[0], 0x8D));
    }
  }
}

TEST_F(ConnectTest, PingreqKeepsConnectionAlive) {
  auto c = Client311("pinging", true);
  auto c2 = Client({.version = kV311, .client_id = "alive", .keep_alive_s = 1});
  for (int i = 0; i < 4; ++i) {  // 2 s in all: past the 1.5 s limit
    EXPECT_TRUE(c2->ExpectSilent(500ms));  // pacing, not synchronisation
    c2->Send(Pingreq());
    EXPECT_EQ(Hex(c2->Read()), "D0 00");
  }
}

TEST_F(ConnectTest, V311SessionTakeoverClosesOldConnection) {
  auto first = Client311("same");
  auto second = Client311("same");
  EXPECT_TRUE(first->ExpectClosed()) << "[MQTT-3.1.4-2]";
  second->Send(Pingreq());
  EXPECT_EQ(Hex(second->Read()), "D0 00");
}

TEST_F(ConnectTest, V5SessionTakeoverSendsDisconnect8E) {
  SKIP_UNDER_MOSQUITTO("closes the taken-over connection without DISCONNECT 0x8E");
  auto first = Client5("same");
  auto second = Client5("same");
  EXPECT_TRUE(IsDisconnect(first->Read(), 0x8E)) << "Session taken over";
  EXPECT_TRUE(first->ExpectClosed());
  second->Send(Pingreq());
  EXPECT_EQ(Hex(second->Read()), "D0 00");
}

TEST_F(ConnectTest, V311SessionPresentFlag) {
  {
    auto c = Client311("persist", false);
    EXPECT_EQ(c->connack.session_present, false) << "no session existed";
    SubscribeOk(*c, "p/t", 1);
    c->Send(Disconnect(kV311));
  }
  auto again = Open(kV311);
  again->Send(Connect({.version = kV311, .client_id = "persist", .clean = false}));
  EXPECT_EQ(Hex(again->Read()), "20 02 01 00") << "session present";
  again->Send(Disconnect(kV311));
  EXPECT_TRUE(again->ExpectClosed());
  auto clean = Open(kV311);
  clean->Send(Connect({.version = kV311, .client_id = "persist", .clean = true}));
  EXPECT_EQ(Hex(clean->Read()), "20 02 00 00") << "[MQTT-3.2.2-1]: clean session -> 0";
}

TEST_F(ConnectTest, V5SessionPresentFlag) {
  Properties expiry = Properties().Add(kSessionExpiry, 60);
  {
    auto c = Client5("persist5", expiry, false);
    EXPECT_FALSE(c->connack.session_present);
    SubscribeOk(*c, "p/t", 1);
    c->Send(Disconnect(kV5));
    EXPECT_TRUE(c->ExpectClosed());
  }
  auto resumed = Client5("persist5", expiry, false);
  EXPECT_TRUE(resumed->connack.session_present);
  resumed->Send(Disconnect(kV5));
  EXPECT_TRUE(resumed->ExpectClosed());
  auto fresh = Client5("persist5", expiry, true);
  EXPECT_FALSE(fresh->connack.session_present) << "Clean Start discards the session";
}

TEST_F(ConnectTest, V5SessionExpiryZeroLeavesNoSession) {
  {
    auto c = Client5("ephemeral", {}, false);
    SubscribeOk(*c, "p/t", 1);
    c->Send(Disconnect(kV5));
    EXPECT_TRUE(c->ExpectClosed());
  }
  auto again = Client5("ephemeral", {}, false);
  EXPECT_FALSE(again->connack.session_present) << "session expiry 0 ends it at disconnect";
}

TEST_F(ConnectTest, ShutdownSendsDisconnect8BToV5Clients) {
  SKIP_UNDER_MOSQUITTO("closes connections on SIGTERM without DISCONNECT 0x8B");
  auto c5 = Client5("v5");
  auto c311 = Client311("v311");
  port();
  auto start = std::chrono::steady_clock::now();
  int status = broker_->Stop();
  auto stop_ms = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
  broker_.reset();  // nothing left for TearDown to check
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeStatus(status);
  EXPECT_TRUE(IsDisconnect(c5->Read(), 0x8B)) << "Server shutting down";
  EXPECT_TRUE(c5->ExpectClosed());
  EXPECT_TRUE(c311->ExpectClosed());
  EXPECT_TRUE(c311->skipped().empty()) << "3.1.1 has no server DISCONNECT";
  EXPECT_LT(stop_ms, 3000ms) << stop_ms.count() << " ms to stop";
}

TEST_F(ConnectTest, AnonymousRefusedWhenDisallowed) {
  START_BROKER({"--allow-anonymous=false"});
  auto c311 = Open(kV311);
  c311->Send(Connect({.version = kV311, .client_id = "anon"}));
  std::string got = Hex(c311->Read());
  EXPECT_TRUE(got == "20 02 00 05" || got == "20 02 00 04") << got;
  EXPECT_TRUE(c311->ExpectClosed());
  auto c5 = Open(kV5);
  c5->Send(Connect({.version = kV5, .client_id = "anon"}));
  Packet p = c5->ReadDecoded();
  EXPECT_EQ(p.type, kConnack);
  EXPECT_TRUE(p.reason == 0x87 || p.reason == 0x86) << "reason " << int(p.reason);
  EXPECT_TRUE(c5->ExpectClosed());
}

}  // namespace
}  // namespace sluice::conformance
