// Round trips of every packet kind in 3.1, 3.1.1 and 5.0, exact bytes for packets written by
// hand from the spec (and captured from mosquitto clients), and EncodedSize == Encode.
#include "mqtt/codec/codec.h"

#include <string>

#include "mqtt/codec/test_util.h"
#include "gtest/gtest.h"

namespace sluice::mqtt {
namespace {

using testing::Enc;
using testing::FromHex;
using testing::MustDecode;
using testing::SamplePackets;
using testing::ToHex;

class RoundTripTest : public ::testing::TestWithParam<Version> {};

TEST_P(RoundTripTest, EveryPacketKindRoundTrips) {
  const Version v = GetParam();
  for (const Packet& p : SamplePackets(v)) {
    SCOPED_TRACE("packet kind " + std::to_string(p.index()));
    const std::string bytes = Enc(p, v);
    EXPECT_EQ(bytes.size(), EncodedSize(p, v));
    FrameHeader h;
    CodecError e;
    ASSERT_EQ(PeekFrame(bytes, kMaxRemainingLength + 5, &h, &e), FrameStatus::kComplete);
    EXPECT_EQ(h.frame_size(), bytes.size());
    const Packet back = MustDecode(bytes, v);
    EXPECT_EQ(back, p) << ToHex(bytes);
    EXPECT_EQ(Enc(back, v), bytes);
  }
}

TEST_P(RoundTripTest, EncodeAppendsToExistingBytes) {
  const Version v = GetParam();
  std::string out = "prefix";
  size_t expected = out.size();
  for (const Packet& p : SamplePackets(v)) {
    Encode(p, v, &out);
    expected += EncodedSize(p, v);
    EXPECT_EQ(out.size(), expected);
  }
  // The concatenation splits back into the same packets.
  std::string_view rest(out);
  rest.remove_prefix(6);
  for (const Packet& p : SamplePackets(v)) {
    FrameHeader h;
    CodecError e;
    ASSERT_EQ(PeekFrame(rest, 1u << 20, &h, &e), FrameStatus::kComplete);
    EXPECT_EQ(MustDecode(rest.substr(0, h.frame_size()), v), p);
    rest.remove_prefix(h.frame_size());
  }
  EXPECT_TRUE(rest.empty());
}

INSTANTIATE_TEST_SUITE_P(AllVersions, RoundTripTest,
                         ::testing::Values(Version::k31, Version::k311, Version::k5),
                         [](const auto& info) {
                           return std::string(info.param == Version::k31    ? "v31"
                                              : info.param == Version::k311 ? "v311"
                                                                            : "v5");
                         });

TEST(RoundTripTest, FiveOnlyFieldsAreDroppedFor311) {
  Publish p{"t", "x", 1, false, false, 5, testing::PublishProperties()};
  const Packet back = MustDecode(Enc(p, Version::k311), Version::k311);
  p.properties = {};
  EXPECT_EQ(back, Packet(p));
  Ack a{PacketType::kPuback, 5, reason::kNoMatchingSubscribers, testing::ReasonProperties()};
  EXPECT_EQ(ToHex(Enc(a, Version::k311)), "40 02 00 05");
}

// --- exact bytes ---------------------------------------------------------------------------

TEST(ExactBytesTest, Mosquitto311Connect) {
  // mosquitto_pub -V mqttv311 -i mosq-test -t a -m b (clean session, keep alive 60).
  const std::string bytes = FromHex("10 15 00 04 4d 51 54 54 04 02 00 3c 00 09 6d 6f 73 71 2d 74 65 73 74");
  Connect c;
  c.version = Version::k311;
  c.keep_alive_s = 60;
  c.client_id = "mosq-test";
  EXPECT_EQ(MustDecode(bytes, Version::k5), Packet(c));  // the argument is ignored for CONNECT
  EXPECT_EQ(ToHex(Enc(c, Version::k311)), ToHex(bytes));
}

TEST(ExactBytesTest, Mqtt31ConnectWithWillAndCredentials) {
  Connect c;
  c.version = Version::k31;
  c.clean_start = true;
  c.keep_alive_s = 10;
  c.client_id = "id";
  c.will = Will{"w", "x", 1, true, {}};
  c.username = "u";
  c.password = "p";
  // flags: user 0x80 | password 0x40 | will retain 0x20 | will qos1 0x08 | will 0x04 | clean 0x02
  const std::string expected =
      "10 1c 00 06 4d 51 49 73 64 70 03 ee 00 0a 00 02 69 64 00 01 77 00 01 78 00 01 75 00 01 70";
  EXPECT_EQ(ToHex(Enc(c, Version::k311)), expected);
  EXPECT_EQ(MustDecode(FromHex(expected), Version::k311), Packet(c));
}

TEST(ExactBytesTest, Mqtt5ConnectWithSessionExpiry) {
  Connect c;
  c.version = Version::k5;
  c.keep_alive_s = 60;
  c.client_id = "c";
  c.properties.session_expiry_interval = 120;
  const std::string expected = "10 13 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 00 78 00 01 63";
  EXPECT_EQ(ToHex(Enc(c, Version::k5)), expected);
  EXPECT_EQ(MustDecode(FromHex(expected), Version::k5), Packet(c));
}

TEST(ExactBytesTest, Connack) {
  EXPECT_EQ(ToHex(Enc(Connack{}, Version::k311)), "20 02 00 00");
  EXPECT_EQ(ToHex(Enc(Connack{true, 0, {}}, Version::k311)), "20 02 01 00");
  EXPECT_EQ(ToHex(Enc(Connack{}, Version::k5)), "20 03 00 00 00");
  Connack c{false, reason::kBadUserNameOrPassword, {}};
  c.properties.reason_string = "no";
  EXPECT_EQ(ToHex(Enc(c, Version::k5)), "20 08 00 86 05 1f 00 02 6e 6f");
  EXPECT_EQ(MustDecode(FromHex("20 02 00 00"), Version::k311), Packet(Connack{}));
}

TEST(ExactBytesTest, Connack311MapsReasonCodesToReturnCodes) {
  const std::pair<uint8_t, uint8_t> cases[] = {
      {0x00, 0}, {0x84, 1}, {0x85, 2}, {0x88, 3}, {0x89, 3}, {0x86, 4}, {0x87, 5},
      {0x80, 5}, {0x8A, 5}, {0x9F, 5}, {1, 1},    {2, 2},    {3, 3},    {4, 4},   {5, 5},
  };
  for (auto [reason_code, return_code] : cases) {
    const std::string bytes = Enc(Connack{false, reason_code, {}}, Version::k311);
    ASSERT_EQ(bytes.size(), 4u);
    EXPECT_EQ(static_cast<uint8_t>(bytes[3]), return_code) << int{reason_code};
    // Decoding reads the return code as is.
    EXPECT_EQ(std::get<Connack>(MustDecode(bytes, Version::k311)).reason_code, return_code);
  }
}

TEST(ExactBytesTest, Publish) {
  EXPECT_EQ(ToHex(Enc(Publish{"a", "hi", 1, false, false, 10, {}}, Version::k311)),
            "32 07 00 01 61 00 0a 68 69");
  EXPECT_EQ(ToHex(Enc(Publish{"a", "", 0, true, false, 0, {}}, Version::k5)), "31 04 00 01 61 00");
  EXPECT_EQ(ToHex(Enc(Publish{"a", "", 2, false, true, 1, {}}, Version::k311)),
            "3c 05 00 01 61 00 01");
  Publish p{"a", "z", 0, false, false, 0, {}};
  p.properties.topic_alias = 1;
  p.properties.subscription_identifiers = {200};
  EXPECT_EQ(ToHex(Enc(p, Version::k5)), "30 0b 00 01 61 06 0b c8 01 23 00 01 7a");
}

TEST(ExactBytesTest, AcksShortFormsIn5) {
  EXPECT_EQ(ToHex(Enc(Ack{PacketType::kPuback, 1, 0, {}}, Version::k5)), "40 02 00 01");
  EXPECT_EQ(ToHex(Enc(Ack{PacketType::kPubrec, 1, 0x10, {}}, Version::k5)), "50 03 00 01 10");
  EXPECT_EQ(ToHex(Enc(Ack{PacketType::kPubrel, 2, 0, {}}, Version::k5)), "62 02 00 02");
  EXPECT_EQ(ToHex(Enc(Ack{PacketType::kPubcomp, 3, 0, {}}, Version::k311)), "70 02 00 03");
  Ack a{PacketType::kPuback, 1, 0, {}};
  a.properties.reason_string = "r";
  EXPECT_EQ(ToHex(Enc(a, Version::k5)), "40 08 00 01 00 04 1f 00 01 72");
  // All three wire forms decode; the long form with no properties equals the short form.
  const Packet ok = Ack{PacketType::kPuback, 1, 0, {}};
  EXPECT_EQ(MustDecode(FromHex("40 02 00 01"), Version::k5), ok);
  EXPECT_EQ(MustDecode(FromHex("40 03 00 01 00"), Version::k5), ok);
  EXPECT_EQ(MustDecode(FromHex("40 04 00 01 00 00"), Version::k5), ok);
  EXPECT_EQ(MustDecode(FromHex("62 03 00 01 92"), Version::k5),
            Packet(Ack{PacketType::kPubrel, 1, 0x92, {}}));
}

TEST(ExactBytesTest, SubscribeAndSuback) {
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"a/b", 1}};
  EXPECT_EQ(ToHex(Enc(s, Version::k311)), "82 08 00 01 00 03 61 2f 62 01");
  s.subscriptions[0].no_local = true;
  s.subscriptions[0].retain_as_published = true;
  s.subscriptions[0].retain_handling = 2;
  EXPECT_EQ(ToHex(Enc(s, Version::k5)), "82 09 00 01 00 00 03 61 2f 62 2d");
  EXPECT_EQ(ToHex(Enc(Suback{1, {1}, {}}, Version::k311)), "90 03 00 01 01");
  EXPECT_EQ(ToHex(Enc(Suback{1, {0x80, 2}, {}}, Version::k5)), "90 05 00 01 00 80 02");
  EXPECT_EQ(MustDecode(FromHex("90 03 00 01 01"), Version::k311), Packet(Suback{1, {1}, {}}));
}

TEST(ExactBytesTest, UnsubscribeAndUnsuback) {
  EXPECT_EQ(ToHex(Enc(Unsubscribe{5, {"x"}, {}}, Version::k311)), "a2 05 00 05 00 01 78");
  EXPECT_EQ(ToHex(Enc(Unsubscribe{5, {"x"}, {}}, Version::k5)), "a2 06 00 05 00 00 01 78");
  EXPECT_EQ(ToHex(Enc(Unsuback{5, {}, {}}, Version::k311)), "b0 02 00 05");
  EXPECT_EQ(ToHex(Enc(Unsuback{5, {0x11}, {}}, Version::k5)), "b0 04 00 05 00 11");
}

TEST(ExactBytesTest, PingDisconnectAuth) {
  EXPECT_EQ(ToHex(Enc(Pingreq{}, Version::k311)), "c0 00");
  EXPECT_EQ(ToHex(Enc(Pingresp{}, Version::k5)), "d0 00");
  EXPECT_EQ(ToHex(Enc(Disconnect{}, Version::k311)), "e0 00");
  EXPECT_EQ(ToHex(Enc(Disconnect{0x8E, {}}, Version::k311)), "e0 00");
  EXPECT_EQ(ToHex(Enc(Disconnect{}, Version::k5)), "e0 00");
  EXPECT_EQ(ToHex(Enc(Disconnect{0x04, {}}, Version::k5)), "e0 01 04");
  Disconnect d{0, {}};
  d.properties.session_expiry_interval = 0;
  EXPECT_EQ(ToHex(Enc(d, Version::k5)), "e0 07 00 05 11 00 00 00 00");
  EXPECT_EQ(MustDecode(FromHex("e0 00"), Version::k5), Packet(Disconnect{}));
  EXPECT_EQ(MustDecode(FromHex("e0 01 8e"), Version::k5), Packet(Disconnect{0x8E, {}}));
  EXPECT_EQ(ToHex(Enc(Auth{}, Version::k5)), "f0 00");
  EXPECT_EQ(ToHex(Enc(Auth{0x18, {}}, Version::k5)), "f0 02 18 00");
  EXPECT_EQ(MustDecode(FromHex("f0 01 19"), Version::k5), Packet(Auth{0x19, {}}));
}

TEST(ExactBytesTest, PropertiesAreWrittenInIdentifierOrder) {
  Publish p{"t", "", 0, false, false, 0, {}};
  p.properties.user_properties = {{"a", "b"}};
  p.properties.topic_alias = 2;
  p.properties.payload_format_indicator = 1;
  EXPECT_EQ(ToHex(Enc(p, Version::k5)),
            "30 10 00 01 74 0c 01 01 23 00 02 26 00 01 61 00 01 62");
}

TEST(EncodedSizeTest, MatchesEncodeForLargeFields) {
  for (Version v : {Version::k311, Version::k5}) {
    for (size_t n : {0u, 1u, 100u, 65535u}) {
      Publish p{std::string(n == 0 ? 1 : n, 't'), std::string(n * 3, 'p'), 1, false, false, 1, {}};
      if (v == Version::k5) {
        p.properties.correlation_data = std::string(n, 'c');
        p.properties.user_properties = {{std::string(n, 'k'), std::string(n, 'v')}};
      }
      EXPECT_EQ(Enc(p, v).size(), EncodedSize(p, v));
    }
  }
}

TEST(EncodeDeathTest, StringOver65535BytesIsACallerBug) {
  Publish p{std::string(65536, 't'), "", 0, false, false, 0, {}};
  EXPECT_DEATH(Enc(p, Version::k311), "65535");
}

}  // namespace
}  // namespace sluice::mqtt
