// Every rejection the decoder makes, with its reason code, and the property matrix (which
// property each packet accepts) checked against a copy of the spec's table written here
// independently of properties.cc.
#include <initializer_list>
#include <map>
#include <set>
#include <string>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/test_util.h"
#include "gtest/gtest.h"

namespace sluice::mqtt {
namespace {

using testing::DecodeReason;
using testing::Frame;
using testing::FromHex;
using testing::Props;
using testing::Str;

constexpr int kOk = -1;
constexpr Version k311 = Version::k311;
constexpr Version k5 = Version::k5;

std::string B(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// --- fixed header --------------------------------------------------------------------------

TEST(FixedHeaderTest, FlagsMustMatchPacketType) {
  for (Version v : {k311, k5}) {
    EXPECT_EQ(DecodeReason(FromHex("60 02 00 01"), v), 0x81);        // PUBREL needs 0b0010
    EXPECT_EQ(DecodeReason(FromHex("62 02 00 01"), v), kOk);
    EXPECT_EQ(DecodeReason(FromHex("41 02 00 01"), v), 0x81);        // PUBACK needs 0
    EXPECT_EQ(DecodeReason(FromHex("80 06 00 01 00 01 61 00"), v), 0x81);  // SUBSCRIBE
    EXPECT_EQ(DecodeReason(FromHex("a0 05 00 01 00 01 61"), v), 0x81);     // UNSUBSCRIBE
    EXPECT_EQ(DecodeReason(FromHex("c1 00"), v), 0x81);
    EXPECT_EQ(DecodeReason(FromHex("d8 00"), v), 0x81);
    EXPECT_EQ(DecodeReason(FromHex("e2 00"), v), 0x81);
    EXPECT_EQ(DecodeReason(FromHex("22 02 00 00"), v), 0x81);
    EXPECT_EQ(DecodeReason(FromHex("00 00"), v), 0x81);  // reserved type 0
  }
  EXPECT_EQ(DecodeReason(FromHex("f0 00"), k311), 0x81);  // AUTH is reserved in 3.1.1
  EXPECT_EQ(DecodeReason(FromHex("f1 00"), k5), 0x81);
}

TEST(FixedHeaderTest, PublishFlags) {
  for (Version v : {k311, k5}) {
    EXPECT_EQ(DecodeReason(FromHex("36 05 00 01 61 00 01"), v), 0x81);  // qos 3
    EXPECT_EQ(DecodeReason(FromHex("38 03 00 01 61"), v), 0x81);  // dup with qos 0
  }
  EXPECT_EQ(DecodeReason(FromHex("3a 05 00 01 61 00 01"), k311), kOk);  // dup with qos 1
  EXPECT_EQ(DecodeReason(FromHex("3a 06 00 01 61 00 01 00"), k5), kOk);
}

TEST(FixedHeaderTest, FrameMustMatchRemainingLength) {
  EXPECT_EQ(DecodeReason(FromHex("c0 00 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("c0 01"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("c0 80 00"), k311), 0x81);  // non-minimal length
  EXPECT_EQ(DecodeReason("", k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("c0"), k311), 0x81);
}

TEST(FixedHeaderTest, BodyMustBeConsumedExactly) {
  EXPECT_EQ(DecodeReason(FromHex("c0 01 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("d0 01 00"), k5), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("40 03 00 01 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("40 05 00 01 00 00 00"), k5), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("20 03 00 00 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("b0 03 00 01 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("e0 01 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("e0 03 00 00 00"), k5), 0x81);
}

// --- CONNECT -------------------------------------------------------------------------------

std::string Connect5(uint8_t flags, std::string_view props, std::string_view payload) {
  return Frame(0x10, Str("MQTT") + B({5, flags, 0, 60}) + Props(props) + std::string(payload));
}
std::string Connect311(uint8_t flags, std::string_view payload) {
  return Frame(0x10, Str("MQTT") + B({4, flags, 0, 60}) + std::string(payload));
}

TEST(ConnectTest, ProtocolNameAndLevel) {
  const std::string tail = B({0x02, 0, 60}) + Str("c");
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTT") + B({4}) + tail), k5), kOk);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQIsdp") + B({3}) + tail), k5), kOk);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTT") + B({3}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTT") + B({6}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQIsdp") + B({4}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTX") + B({4}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("mqtt") + B({4}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("") + B({4}) + tail), k5), 0x84);
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTT")), k5), 0x81);  // truncated before level
}

TEST(ConnectTest, Flags) {
  EXPECT_EQ(DecodeReason(Connect311(0x03, Str("c")), k311), 0x81);  // reserved bit 0
  EXPECT_EQ(DecodeReason(Connect5(0x01, "", Str("c")), k5), 0x81);
  EXPECT_EQ(DecodeReason(Connect311(0x08, Str("c")), k311), 0x81);  // will qos, no will
  EXPECT_EQ(DecodeReason(Connect311(0x20, Str("c")), k311), 0x81);  // will retain, no will
  EXPECT_EQ(DecodeReason(Connect311(0x1C, Str("c") + Str("w") + Str("x")), k311), 0x81);  // qos 3
  EXPECT_EQ(DecodeReason(Connect311(0x14, Str("c") + Str("w") + Str("x")), k311), kOk);   // qos 2
  // Password without user name: malformed in 3.1.1, allowed in 5.0.
  EXPECT_EQ(DecodeReason(Connect311(0x40, Str("c") + Str("p")), k311), 0x81);
  EXPECT_EQ(DecodeReason(Connect5(0x40, "", Str("c") + Str("p")), k5), kOk);
  EXPECT_EQ(DecodeReason(Connect311(0xC0, Str("c") + Str("u") + Str("p")), k311), kOk);
  // Flags promise fields the payload lacks.
  EXPECT_EQ(DecodeReason(Connect311(0x80, Str("c")), k311), 0x81);
  EXPECT_EQ(DecodeReason(Connect311(0x04, Str("c") + Str("w")), k311), 0x81);
}

TEST(ConnectTest, Payload) {
  EXPECT_EQ(DecodeReason(Connect311(0x02, Str("")), k311), kOk);  // empty id is the broker's call
  EXPECT_EQ(DecodeReason(Connect311(0x02, Str("\xC0\x80")), k311), 0x81);
  EXPECT_EQ(DecodeReason(Connect311(0x02, Str(std::string("a\0b", 3))), k311), 0x81);
  EXPECT_EQ(DecodeReason(Connect311(0x82, Str("c") + Str("\xff")), k311), 0x81);  // user name
  EXPECT_EQ(DecodeReason(Connect311(0xC2, Str("c") + Str("u") + Str("\xff")), k311), kOk);
  EXPECT_EQ(DecodeReason(Connect311(0x02, Str("c") + "x"), k311), 0x81);  // trailing byte
  EXPECT_EQ(DecodeReason(Connect311(0x06, Str("c") + Str("a/+") + Str("x")), k311), 0x90);
  EXPECT_EQ(DecodeReason(Connect311(0x06, Str("c") + Str("") + Str("x")), k311), 0x90);
  EXPECT_EQ(DecodeReason(Connect311(0x06, Str("c") + Str("\xff") + Str("x")), k311), 0x81);
}

TEST(ConnectTest, Properties) {
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x21, 0, 0}), Str("c")), k5), 0x82);  // rx max 0
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x21, 0, 1}), Str("c")), k5), kOk);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x27, 0, 0, 0, 0}), Str("c")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x19, 2}), Str("c")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x17, 2}), Str("c")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x17, 1, 0x19, 1}), Str("c")), k5), kOk);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1}), Str("c")), k5),
            0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x23, 0, 1}), Str("c")), k5), 0x81);  // topic alias
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x18, 0, 0, 0, 1}), Str("c")), k5), 0x81);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x7F, 0}), Str("c")), k5), 0x81);  // unknown id
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x00}), Str("c")), k5), 0x81);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x21, 0}), Str("c")), k5), 0x81);  // cut value
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x15}) + Str("\xed\xa0\x80"), Str("c")), k5), 0x81);
  // Property length past the end of the packet.
  EXPECT_EQ(DecodeReason(Frame(0x10, Str("MQTT") + B({5, 2, 0, 60, 100}) + Str("c")), k5), 0x81);
  // Will properties: will delay allowed there, session expiry not.
  const std::string will_payload = Str("c") + Props(B({0x18, 0, 0, 0, 9})) + Str("w") + Str("x");
  EXPECT_EQ(DecodeReason(Connect5(0x06, "", will_payload), k5), kOk);
  const std::string bad_will = Str("c") + Props(B({0x11, 0, 0, 0, 9})) + Str("w") + Str("x");
  EXPECT_EQ(DecodeReason(Connect5(0x06, "", bad_will), k5), 0x81);
  const std::string wild_reply = Str("c") + Props(B({0x08}) + Str("r/#")) + Str("w") + Str("x");
  EXPECT_EQ(DecodeReason(Connect5(0x06, "", wild_reply), k5), 0x82);
}

// --- CONNACK -------------------------------------------------------------------------------

TEST(ConnackTest, Rejections) {
  EXPECT_EQ(DecodeReason(FromHex("20 02 02 00"), k311), 0x81);  // reserved ack flags
  EXPECT_EQ(DecodeReason(FromHex("20 02 00 05"), k311), kOk);
  EXPECT_EQ(DecodeReason(FromHex("20 02 00 06"), k311), 0x81);  // reserved return code
  EXPECT_EQ(DecodeReason(FromHex("20 03 00 87 00"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("20 03 00 01 00"), k5), 0x81);  // not a CONNACK reason
  EXPECT_EQ(DecodeReason(FromHex("20 02 00 00"), k5), 0x81);     // property length missing
  EXPECT_EQ(DecodeReason(FromHex("20 05 00 00 02 24 02"), k5), 0x82);  // maximum qos 2
  EXPECT_EQ(DecodeReason(FromHex("20 05 00 00 02 25 02"), k5), 0x82);
}

// --- PUBLISH -------------------------------------------------------------------------------

std::string Publish5(uint8_t first, std::string_view topic, std::string_view props) {
  return Frame(first, Str(topic) + ((first & 0x06) ? B({0, 1}) : "") + Props(props) + "pl");
}

TEST(PublishTest, TopicName) {
  for (Version v : {k311, k5}) {
    EXPECT_EQ(DecodeReason(Frame(0x30, Str("a/+/b")), v), 0x90);
    EXPECT_EQ(DecodeReason(Frame(0x30, Str("a/#") + (v == k5 ? B({0}) : "")), v), 0x90);
    EXPECT_EQ(DecodeReason(Frame(0x30, Str("+")), v), 0x90);
    EXPECT_EQ(DecodeReason(Frame(0x30, Str("a\xff")), v), 0x81);
    EXPECT_EQ(DecodeReason(Frame(0x30, Str(std::string("a\0", 2))), v), 0x81);
    EXPECT_EQ(DecodeReason(Frame(0x30, Str("a")), v), v == k5 ? 0x81 : kOk);  // props missing
    EXPECT_EQ(DecodeReason(Frame(0x30, B({0, 5, 'a'})), v), 0x81);  // topic runs off the end
  }
  EXPECT_EQ(DecodeReason(Frame(0x30, Str("") + "x"), k311), 0x90);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "", ""), k5), 0x82);  // empty topic without alias
  EXPECT_EQ(DecodeReason(Publish5(0x30, "", B({0x23, 0, 4})), k5), kOk);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "$SYS/x", ""), k5), kOk);
}

TEST(PublishTest, PacketIdentifier) {
  EXPECT_EQ(DecodeReason(Frame(0x32, Str("a") + B({0, 0})), k311), 0x82);
  EXPECT_EQ(DecodeReason(Frame(0x34, Str("a") + B({0, 0}) + B({0})), k5), 0x82);
  EXPECT_EQ(DecodeReason(Frame(0x32, Str("a") + B({0})), k311), 0x81);  // cut packet id
  const Packet p = testing::MustDecode(Frame(0x30, Str("a") + B({0, 0})), k311);
  EXPECT_EQ(std::get<Publish>(p).payload, std::string("\0\0", 2));  // qos 0: it is payload
}

TEST(PublishTest, Properties) {
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x23, 0, 0})), k5), 0x94);  // alias 0
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x23, 0, 1, 0x23, 0, 2})), k5), 0x82);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x08}) + Str("a/+")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x08}) + Str("")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x08}) + Str("a/b")), k5), kOk);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x01, 2})), k5), 0x82);  // payload format 2
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x0B, 0})), k5), 0x82);  // subscription id 0
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x0B, 1, 0x0B, 2})), k5), kOk);  // repeats
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x0B, 0x80, 0})), k5), 0x81);  // non-minimal
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x0B, 0xff, 0xff, 0xff, 0xff, 1})), k5), 0x81);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x26}) + Str("k") + Str("v") + B({0x26}) +
                                                 Str("k") + Str("v")),
                         k5),
            kOk);
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x26}) + Str("k")), k5), 0x81);  // half a pair
  EXPECT_EQ(DecodeReason(Publish5(0x30, "t", B({0x11, 0, 0, 0, 0})), k5), 0x81);  // not allowed
  EXPECT_EQ(DecodeReason(Publish5(0x32, "t", B({0x03}) + Str("\xf4\x90\x80\x80")), k5), 0x81);
}

// --- PUBACK family -------------------------------------------------------------------------

TEST(AckTest, Rejections) {
  EXPECT_EQ(DecodeReason(FromHex("40 02 00 00"), k311), 0x82);  // packet id 0
  EXPECT_EQ(DecodeReason(FromHex("40 01 00"), k5), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("40 03 00 01 01"), k5), 0x81);     // not a PUBACK reason
  EXPECT_EQ(DecodeReason(FromHex("40 03 00 01 92"), k5), 0x81);     // PUBREL-only reason
  EXPECT_EQ(DecodeReason(FromHex("62 03 00 01 10"), k5), 0x81);     // PUBACK-only reason
  EXPECT_EQ(DecodeReason(FromHex("50 03 00 01 97"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("70 03 00 01 92"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("40 05 00 01 00 05 00"), k5), 0x81);  // props past end
  EXPECT_EQ(DecodeReason(FromHex("40 06 00 01 00 02 23 00"), k5), 0x81);
}

// --- SUBSCRIBE / UNSUBSCRIBE / SUBACK / UNSUBACK -------------------------------------------

std::string Subscribe(Version v, std::string_view props, std::string_view payload) {
  return Frame(0x82, B({0, 1}) + (v == k5 ? Props(props) : "") + std::string(payload));
}

TEST(SubscribeTest, Rejections) {
  for (Version v : {k311, k5}) {
    EXPECT_EQ(DecodeReason(Subscribe(v, "", ""), v), 0x82);  // no filters
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a") + B({3})), v), 0x81);   // qos 3
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a") + B({0x40})), v), 0x81);  // reserved
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a") + B({0x80})), v), 0x81);
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("") + B({0})), v), 0x81);  // empty filter
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a\xff") + B({0})), v), 0x81);
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a")), v), 0x81);  // options missing
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a") + B({1}) + Str("b") + B({2})), v), kOk);
    EXPECT_EQ(DecodeReason(Frame(0x82, B({0, 0}) + (v == k5 ? B({0}) : "") + Str("a") + B({0})),
                           v),
              0x82);  // packet id 0
    // Wildcard placement is the topic module's job.
    EXPECT_EQ(DecodeReason(Subscribe(v, "", Str("a/b#") + B({0})), v), kOk);
  }
  EXPECT_EQ(DecodeReason(Subscribe(k311, "", Str("a") + B({0x04})), k311), 0x81);  // no local
  EXPECT_EQ(DecodeReason(Subscribe(k311, "", Str("a") + B({0x10})), k311), 0x81);
  EXPECT_EQ(DecodeReason(Subscribe(k5, "", Str("a") + B({0x2E})), k5), kOk);
  EXPECT_EQ(DecodeReason(Subscribe(k5, "", Str("a") + B({0x30})), k5), 0x81);  // handling 3
  EXPECT_EQ(DecodeReason(Subscribe(k5, B({0x0B, 5}), Str("a") + B({0})), k5), kOk);
  EXPECT_EQ(DecodeReason(Subscribe(k5, B({0x0B, 0}), Str("a") + B({0})), k5), 0x82);
  EXPECT_EQ(DecodeReason(Subscribe(k5, B({0x0B, 5, 0x0B, 6}), Str("a") + B({0})), k5), 0x82);
  EXPECT_EQ(DecodeReason(Subscribe(k5, B({0x0B, 0xff, 0xff, 0xff, 0x7f}), Str("a") + B({0})), k5),
            kOk);
}

TEST(UnsubscribeTest, Rejections) {
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1})), k311), 0x82);
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1, 0})), k5), 0x82);
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1}) + Str("")), k311), 0x81);
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1}) + Str("a") + B({0})), k311), 0x81);
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1, 0}) + Str("a") + Str("+/#")), k5), kOk);
  EXPECT_EQ(DecodeReason(Frame(0xA2, B({0, 1, 2, 0x0B, 1}) + Str("a")), k5), 0x81);
}

TEST(SubackTest, Rejections) {
  EXPECT_EQ(DecodeReason(FromHex("90 02 00 01"), k311), 0x82);
  EXPECT_EQ(DecodeReason(FromHex("90 03 00 01 00"), k5), 0x82);
  EXPECT_EQ(DecodeReason(FromHex("90 03 00 01 03"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("90 03 00 01 8f"), k311), 0x81);  // 5.0-only code
  EXPECT_EQ(DecodeReason(FromHex("90 04 00 01 00 8f"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("b0 03 00 01 00"), k5), 0x82);  // unsuback without codes
  EXPECT_EQ(DecodeReason(FromHex("b0 04 00 01 00 11"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("b0 04 00 01 00 01"), k5), 0x81);
}

// --- DISCONNECT / AUTH ---------------------------------------------------------------------

TEST(DisconnectTest, Rejections) {
  EXPECT_EQ(DecodeReason(FromHex("e0 01 00"), k311), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("e0 01 01"), k5), 0x81);  // not a DISCONNECT reason
  EXPECT_EQ(DecodeReason(FromHex("e0 01 04"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("e0 05 00 03 23 00 01"), k5), 0x81);  // topic alias
  EXPECT_EQ(DecodeReason(FromHex("e0 07 00 05 11 00 00 00 01"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("e0 03 00 01 11"), k5), 0x81);  // cut property
}

TEST(AuthTest, Rejections) {
  EXPECT_EQ(DecodeReason(FromHex("f0 00"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("f0 02 01 00"), k5), 0x81);
  EXPECT_EQ(DecodeReason(FromHex("f0 02 18 00"), k5), kOk);
  EXPECT_EQ(DecodeReason(FromHex("f0 04 18 02 1f 00"), k5), 0x81);
  EXPECT_EQ(DecodeReason(Frame(0xF0, B({0x18}) + Props(B({0x15}) + Str("m") + B({0x15}) +
                                                       Str("m"))),
                         k5),
            0x82);
}

TEST(AuthTest, AuthenticationDataNeedsAMethod) {
  EXPECT_EQ(DecodeReason(Frame(0xF0, B({0x18}) + Props(B({0x16}) + Str("d"))), k5), 0x82);
  EXPECT_EQ(DecodeReason(Frame(0x20, B({0, 0}) + Props(B({0x16}) + Str("d"))), k5), 0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x16}) + Str("d"), Str("c")), k5), 0x82);
  EXPECT_EQ(DecodeReason(Connect5(0x02, B({0x16}) + Str("d") + B({0x15}) + Str("m"), Str("c")),
                         k5),
            kOk);
}

// --- the property matrix -------------------------------------------------------------------

enum Kind { kConnect, kWill, kConnack, kPublish, kPuback, kPubrec, kPubrel, kPubcomp, kSubscribe,
            kSuback, kUnsubscribe, kUnsuback, kDisconnect, kAuth, kKinds };

// One valid value per property type: 'b' byte, 's' two-byte, 'i' four-byte, 'v' varint,
// 'u' UTF-8 string, 'd' binary data, 'p' string pair.
struct SpecRow {
  uint8_t id;
  char type;
  std::set<Kind> allowed;
};

const std::vector<SpecRow>& SpecTable() {
  static const auto* table = new std::vector<SpecRow>{
      {0x01, 'b', {kPublish, kWill}},
      {0x02, 'i', {kPublish, kWill}},
      {0x03, 'u', {kPublish, kWill}},
      {0x08, 'u', {kPublish, kWill}},
      {0x09, 'd', {kPublish, kWill}},
      {0x0B, 'v', {kPublish, kSubscribe}},
      {0x11, 'i', {kConnect, kConnack, kDisconnect}},
      {0x12, 'u', {kConnack}},
      {0x13, 's', {kConnack}},
      {0x15, 'u', {kConnect, kConnack, kAuth}},
      {0x16, 'd', {kConnect, kConnack, kAuth}},
      {0x17, 'b', {kConnect}},
      {0x18, 'i', {kWill}},
      {0x19, 'b', {kConnect}},
      {0x1A, 'u', {kConnack}},
      {0x1C, 'u', {kConnack, kDisconnect}},
      {0x1F, 'u', {kConnack, kPuback, kPubrec, kPubrel, kPubcomp, kSuback, kUnsuback,
                   kDisconnect, kAuth}},
      {0x21, 's', {kConnect, kConnack}},
      {0x22, 's', {kConnect, kConnack}},
      {0x23, 's', {kPublish}},
      {0x24, 'b', {kConnack}},
      {0x25, 'b', {kConnack}},
      {0x26, 'p', {kConnect, kWill, kConnack, kPublish, kPuback, kPubrec, kPubrel, kPubcomp,
                   kSubscribe, kSuback, kUnsubscribe, kUnsuback, kDisconnect, kAuth}},
      {0x27, 'i', {kConnect, kConnack}},
      {0x28, 'b', {kConnack}},
      {0x29, 'b', {kConnack}},
      {0x2A, 'b', {kConnack}},
  };
  return *table;
}

std::string PropertyBytes(const SpecRow& row) {
  std::string out = B({row.id});
  switch (row.type) {
    case 'b': case 'v': return out + B({1});
    case 's': return out + B({0, 1});
    case 'i': return out + B({0, 0, 0, 1});
    case 'u': return out + Str("a");
    case 'd':  // authentication data needs a method beside it
      return out + Str("a") + (row.id == 0x16 ? B({0x15}) + Str("m") : "");
    default: return out + Str("a") + Str("b");
  }
}

// A 5.0 packet of `kind` whose (only interesting) property block is `props`.
std::string PacketWithProperties(Kind kind, std::string_view props) {
  const std::string p = Props(props);
  const std::string head = Str("MQTT") + B({5});
  switch (kind) {
    case kConnect: return Frame(0x10, head + B({2, 0, 0}) + p + Str("c"));
    case kWill: return Frame(0x10, head + B({6, 0, 0, 0}) + Str("c") + p + Str("w") + Str("x"));
    case kConnack: return Frame(0x20, B({0, 0}) + p);
    case kPublish: return Frame(0x30, Str("t") + p + "payload");
    case kPuback: return Frame(0x40, B({0, 1, 0}) + p);
    case kPubrec: return Frame(0x50, B({0, 1, 0}) + p);
    case kPubrel: return Frame(0x62, B({0, 1, 0}) + p);
    case kPubcomp: return Frame(0x70, B({0, 1, 0}) + p);
    case kSubscribe: return Frame(0x82, B({0, 1}) + p + Str("f") + B({0}));
    case kSuback: return Frame(0x90, B({0, 1}) + p + B({0}));
    case kUnsubscribe: return Frame(0xA2, B({0, 1}) + p + Str("f"));
    case kUnsuback: return Frame(0xB0, B({0, 1}) + p + B({0}));
    case kDisconnect: return Frame(0xE0, B({0}) + p);
    default: return Frame(0xF0, B({0}) + p);
  }
}

TEST(PropertyMatrixTest, EachPropertyIsAcceptedExactlyWhereTheSpecAllowsIt) {
  for (int k = 0; k < kKinds; ++k) {
    const Kind kind = static_cast<Kind>(k);
    ASSERT_EQ(DecodeReason(PacketWithProperties(kind, ""), k5), kOk) << k;
    for (const SpecRow& row : SpecTable()) {
      const bool allowed = row.allowed.count(kind) > 0;
      EXPECT_EQ(DecodeReason(PacketWithProperties(kind, PropertyBytes(row)), k5),
                allowed ? kOk : 0x81)
          << "kind " << k << " property 0x" << std::hex << int{row.id};
      if (!allowed) continue;
      // Twice: only user properties repeat, and subscription identifiers in PUBLISH.
      const bool repeatable = row.id == 0x26 || (row.id == 0x0B && kind == kPublish);
      EXPECT_EQ(DecodeReason(PacketWithProperties(kind, PropertyBytes(row) + PropertyBytes(row)),
                             k5),
                repeatable ? kOk : 0x82)
          << "kind " << k << " property 0x" << std::hex << int{row.id};
    }
  }
}

TEST(PropertyMatrixTest, UnknownIdentifiersAreMalformed) {
  std::set<int> known;
  for (const SpecRow& row : SpecTable()) known.insert(row.id);
  for (int id = 0; id < 128; ++id) {
    if (known.count(id)) continue;
    EXPECT_EQ(DecodeReason(PacketWithProperties(kPublish, B({id, 0, 0, 0, 0})), k5), 0x81) << id;
  }
}

// --- limits (issue 19) ----------------------------------------------------------------------

// A PUBLISH (QoS 0, topic "t") whose property block holds `n` user properties "k"="v".
std::string PublishWithUserProperties(int n) {
  std::string props;
  for (int i = 0; i < n; ++i) props += B({0x26, 0, 1, 'k', 0, 1, 'v'});
  return Frame(0x30, Str("t") + testing::VarintBytes(static_cast<uint32_t>(props.size())) + props);
}

TEST(LimitsTest, UserPropertiesBeyondTheLimitAreQuotaExceeded) {
  const DecodeLimits limits{100};
  Packet packet;
  CodecError error;
  EXPECT_TRUE(Decode(PublishWithUserProperties(100), k5, &packet, &error, limits))
      << error.message;
  EXPECT_EQ(std::get<Publish>(packet).properties.user_properties.size(), 100u);
  EXPECT_FALSE(Decode(PublishWithUserProperties(101), k5, &packet, &error, limits));
  EXPECT_EQ(error.reason_code, reason::kQuotaExceeded);
  // 0 = unlimited, and the overload without limits has none.
  EXPECT_TRUE(Decode(PublishWithUserProperties(5000), k5, &packet, &error, DecodeLimits{}));
  EXPECT_TRUE(Decode(PublishWithUserProperties(5000), k5, &packet, &error));
}

}  // namespace
}  // namespace sluice::mqtt
