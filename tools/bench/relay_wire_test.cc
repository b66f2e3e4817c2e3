// The relay's hand-made wire operations, cross-checked against the broker's codec: what the
// relay parses was encoded by the codec, and what it encodes the codec decodes.
#include "tools/bench/relay_wire.h"

#include <string>
#include <variant>

#include "mqtt/codec/codec.h"
#include "gtest/gtest.h"

namespace sluice::bench::wire {
namespace {

using mqtt::Version;

mqtt::Packet DecodeOrDie(const std::string& bytes, Version v) {
  mqtt::Packet packet;
  mqtt::CodecError error;
  EXPECT_TRUE(mqtt::Decode(bytes, v, &packet, &error)) << error.message;
  return packet;
}

std::string_view BodyOf(const std::string& bytes, Frame* frame) {
  EXPECT_EQ(PeekFrame(bytes, frame), FrameStatus::kComplete);
  EXPECT_EQ(frame->size(), bytes.size());
  return std::string_view(bytes).substr(frame->header_bytes);
}

TEST(RelayWireTest, FramesNeedWholePackets) {
  Frame f;
  EXPECT_EQ(PeekFrame("", &f), FrameStatus::kNeedMore);
  EXPECT_EQ(PeekFrame(std::string_view("\x30\x80", 2), &f), FrameStatus::kNeedMore);
  EXPECT_EQ(PeekFrame(std::string_view("\x30\x03\x00\x01", 4), &f), FrameStatus::kNeedMore);
  EXPECT_EQ(PeekFrame(std::string_view("\x30\xff\xff\xff\xff\x01", 6), &f),
            FrameStatus::kMalformed);
  std::string big = "\x30";
  AppendRemainingLength(200'000, &big);
  big.append(200'000, 'x');
  EXPECT_EQ(PeekFrame(big, &f), FrameStatus::kComplete);
  EXPECT_EQ(f.header_bytes, 4u);
  EXPECT_EQ(f.body_bytes, 200'000u);
}

TEST(RelayWireTest, ConnectLevelBothVersions) {
  for (Version v : {Version::k311, Version::k5}) {
    mqtt::Connect c;
    c.version = v;
    c.client_id = "dev-1";
    std::string bytes;
    mqtt::Encode(c, v, &bytes);
    Frame f;
    uint8_t level = 0;
    ASSERT_TRUE(ConnectLevel(BodyOf(bytes, &f), &level));
    EXPECT_EQ(f.type(), kConnect);
    EXPECT_EQ(level, static_cast<uint8_t>(v));
  }
}

TEST(RelayWireTest, PublishParsedAndReencodedForEveryQosAndVersion) {
  for (Version from : {Version::k311, Version::k5}) {
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      mqtt::Publish in;
      in.topic = "bench/dev/17/telemetry";
      in.payload = std::string(64, 'p');
      in.qos = qos;
      in.packet_id = qos ? 4242 : 0;
      if (from == Version::k5) in.properties.user_properties = {{"k", "v"}};
      std::string bytes;
      mqtt::Encode(in, from, &bytes);
      Frame f;
      std::string_view body = BodyOf(bytes, &f);
      PublishView view;
      ASSERT_TRUE(ParsePublish(f.first_byte, body, from == Version::k5, &view));
      EXPECT_EQ(view.qos, qos);
      EXPECT_EQ(view.packet_id, in.packet_id);
      EXPECT_EQ(view.topic, in.topic);
      EXPECT_EQ(view.payload, in.payload);
      for (Version to : {Version::k311, Version::k5}) {
        for (uint8_t out_qos = 0; out_qos <= qos; ++out_qos) {
          std::string out = "prefix";
          size_t id_at = AppendPublish(view, out_qos, to == Version::k5, 7, &out);
          mqtt::Packet packet = DecodeOrDie(out.substr(6), to);
          auto* p = std::get_if<mqtt::Publish>(&packet);
          ASSERT_NE(p, nullptr);
          EXPECT_EQ(p->qos, out_qos);
          EXPECT_EQ(p->topic, in.topic);
          EXPECT_EQ(p->payload, in.payload);
          EXPECT_FALSE(p->retain);
          if (out_qos > 0) {
            EXPECT_EQ(p->packet_id, 7);
            EXPECT_EQ(out[id_at + 1], 7);
          } else {
            EXPECT_EQ(id_at, std::string::npos);
          }
          const bool props_kept = from == Version::k5 && to == Version::k5;
          EXPECT_EQ(p->properties.user_properties.size(), props_kept ? 1u : 0u);
        }
      }
    }
  }
}

TEST(RelayWireTest, SubackGrantsWhatWasAsked) {
  for (Version v : {Version::k311, Version::k5}) {
    mqtt::Subscribe s;
    s.packet_id = 9;
    s.subscriptions = {{"bench/dev/+/telemetry", 1}, {"a/#", 0}};
    std::string bytes;
    mqtt::Encode(s, v, &bytes);
    Frame f;
    std::string out;
    uint8_t max_qos = 0;
    ASSERT_TRUE(AppendSuback(BodyOf(bytes, &f), v == Version::k5, &out, &max_qos));
    EXPECT_EQ(max_qos, 1);
    mqtt::Packet packet = DecodeOrDie(out, v);
    auto* ack = std::get_if<mqtt::Suback>(&packet);
    ASSERT_NE(ack, nullptr);
    EXPECT_EQ(ack->packet_id, 9);
    EXPECT_EQ(ack->reason_codes, (std::vector<uint8_t>{1, 0}));
  }
}

TEST(RelayWireTest, UnsubackAndFixedPackets) {
  for (Version v : {Version::k311, Version::k5}) {
    mqtt::Unsubscribe u;
    u.packet_id = 3;
    u.filters = {"x", "y"};
    std::string bytes;
    mqtt::Encode(u, v, &bytes);
    Frame f;
    std::string out;
    ASSERT_TRUE(AppendUnsuback(BodyOf(bytes, &f), v == Version::k5, &out));
    mqtt::Packet packet = DecodeOrDie(out, v);
    auto* ack = std::get_if<mqtt::Unsuback>(&packet);
    ASSERT_NE(ack, nullptr);
    EXPECT_EQ(ack->packet_id, 3);
    EXPECT_EQ(ack->reason_codes.size(), v == Version::k5 ? 2u : 0u);

    out.clear();
    AppendConnack(v == Version::k5, &out);
    packet = DecodeOrDie(out, v);
    ASSERT_NE(std::get_if<mqtt::Connack>(&packet), nullptr);
    EXPECT_EQ(std::get<mqtt::Connack>(packet).reason_code, mqtt::reason::kSuccess);

    for (uint8_t first : {0x40, 0x50, 0x62, 0x70}) {
      out.clear();
      AppendAck(first, 0x1234, &out);
      packet = DecodeOrDie(out, v);
      auto* a = std::get_if<mqtt::Ack>(&packet);
      ASSERT_NE(a, nullptr) << int{first};
      EXPECT_EQ(a->packet_id, 0x1234);
      EXPECT_EQ(static_cast<uint8_t>(a->type), first >> 4);
    }
    out.clear();
    AppendPingresp(&out);
    packet = DecodeOrDie(out, v);
    EXPECT_NE(std::get_if<mqtt::Pingresp>(&packet), nullptr);
  }
}

TEST(RelayWireTest, TruncatedInputIsRejected) {
  PublishView view;
  EXPECT_FALSE(ParsePublish(0x32, std::string_view("\x00\x05" "ab", 4), false, &view));
  EXPECT_FALSE(ParsePublish(0x32, std::string_view("\x00\x01" "a", 3), false, &view));  // no id
  uint8_t level;
  EXPECT_FALSE(ConnectLevel(std::string_view("\x00\x04MQ", 4), &level));
  std::string out;
  uint8_t max_qos = 0;
  EXPECT_FALSE(AppendSuback(std::string_view("\x00\x01", 2), false, &out, &max_qos));  // no filter
}

}  // namespace
}  // namespace sluice::bench::wire
