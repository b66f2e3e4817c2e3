// PeekFrame: remaining-length boundaries, malformed lengths, the packet-too-large check, and
// truncation at every byte position (kNeedMore from PeekFrame, no crash from Decode).
#include <string>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/test_util.h"
#include "gtest/gtest.h"

namespace sluice::mqtt {
namespace {

using testing::Enc;
using testing::FromHex;
using testing::MustDecode;
using testing::SamplePackets;

constexpr uint32_t kNoLimit = kMaxRemainingLength + 5;

FrameStatus Peek(std::string_view buffer, FrameHeader* h, CodecError* e,
                 uint32_t max = kNoLimit) {
  return PeekFrame(buffer, max, h, e);
}

TEST(PeekFrameTest, EmptyAndPartialHeaders) {
  FrameHeader h;
  CodecError e;
  EXPECT_EQ(Peek("", &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30"), &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30 80"), &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30 ff ff"), &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30 ff ff ff"), &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30 ff ff ff 7f"), &h, &e), FrameStatus::kNeedMore);
  EXPECT_EQ(h.remaining_length, kMaxRemainingLength);
  EXPECT_EQ(h.header_size, 5u);
  EXPECT_EQ(h.type(), PacketType::kPublish);
}

TEST(PeekFrameTest, MalformedHeaders) {
  FrameHeader h;
  CodecError e;
  EXPECT_EQ(Peek(FromHex("30 ff ff ff ff"), &h, &e), FrameStatus::kError);  // 5th byte
  EXPECT_EQ(e.reason_code, reason::kMalformedPacket);
  e = {};
  EXPECT_EQ(Peek(FromHex("30 80 80 80 80 01"), &h, &e), FrameStatus::kError);
  EXPECT_EQ(e.reason_code, reason::kMalformedPacket);
  e = {};
  EXPECT_EQ(Peek(FromHex("30 80 00"), &h, &e), FrameStatus::kError);  // non-minimal 0
  EXPECT_EQ(e.reason_code, reason::kMalformedPacket);
  EXPECT_EQ(Peek(FromHex("30 ff 80 00"), &h, &e), FrameStatus::kError);
  EXPECT_EQ(Peek(FromHex("30 80 80 80 00"), &h, &e), FrameStatus::kError);
  e = {};
  EXPECT_EQ(Peek(FromHex("00"), &h, &e), FrameStatus::kError);  // reserved type 0
  EXPECT_EQ(e.reason_code, reason::kMalformedPacket);
  EXPECT_EQ(Peek(FromHex("0f 00"), &h, &e), FrameStatus::kError);
}

TEST(PeekFrameTest, PacketTooLargeWithoutTheBody) {
  FrameHeader h;
  CodecError e;
  // 2 + 100 bytes: allowed at exactly 102, refused at 101, before any body byte arrives.
  EXPECT_EQ(Peek(FromHex("30 64"), &h, &e, 102), FrameStatus::kNeedMore);
  EXPECT_EQ(Peek(FromHex("30 64"), &h, &e, 101), FrameStatus::kError);
  EXPECT_EQ(e.reason_code, reason::kPacketTooLarge);
  e = {};
  EXPECT_EQ(Peek(FromHex("30 ff ff ff 7f"), &h, &e, 1 << 20), FrameStatus::kError);
  EXPECT_EQ(e.reason_code, reason::kPacketTooLarge);
}

TEST(PeekFrameTest, CompleteFrameIgnoresTrailingBytes) {
  FrameHeader h;
  CodecError e;
  EXPECT_EQ(Peek(FromHex("c0 00 d0 00"), &h, &e), FrameStatus::kComplete);
  EXPECT_EQ(h.frame_size(), 2u);
  EXPECT_EQ(h.first_byte, 0xC0);
}

// PUBLISH frames whose remaining length sits on each varint size boundary.
TEST(PeekFrameTest, RemainingLengthBoundaries) {
  const std::pair<uint32_t, uint32_t> cases[] = {
      {0, 1},       {127, 1},     {128, 2},     {16383, 2},
      {16384, 3},   {2097151, 3}, {2097152, 4},
  };
  for (auto [remaining, varint_bytes] : cases) {
    SCOPED_TRACE(remaining);
    for (Version v : {Version::k311, Version::k5}) {
      // topic "t" (3 bytes) + qos 0, + property length (1 byte) in 5.0, rest payload.
      const uint32_t overhead = v == Version::k5 ? 4 : 3;
      if (remaining < overhead) continue;
      const Publish p{"t", std::string(remaining - overhead, 'p'), 0, false, false, 0, {}};
      const std::string bytes = Enc(p, v);
      ASSERT_EQ(bytes.size(), 1 + varint_bytes + remaining);
      FrameHeader h;
      CodecError e;
      ASSERT_EQ(Peek(bytes, &h, &e), FrameStatus::kComplete);
      EXPECT_EQ(h.remaining_length, remaining);
      EXPECT_EQ(h.header_size, 1 + varint_bytes);
      EXPECT_EQ(MustDecode(bytes, v), Packet(p));
      // One byte short of the frame: still waiting.
      EXPECT_EQ(Peek(std::string_view(bytes).substr(0, bytes.size() - 1), &h, &e),
                FrameStatus::kNeedMore);
    }
  }
  // The largest remaining length, header only (the body would be 256 MB).
  const std::pair<const char*, uint32_t> headers[] = {
      {"30 7f", 127},          {"30 80 01", 128},          {"30 ff 7f", 16383},
      {"30 80 80 01", 16384},  {"30 ff ff 7f", 2097151},   {"30 80 80 80 01", 2097152},
      {"30 ff ff ff 7f", kMaxRemainingLength},
  };
  for (auto [hex, remaining] : headers) {
    FrameHeader h;
    CodecError e;
    EXPECT_EQ(Peek(FromHex(hex), &h, &e), FrameStatus::kNeedMore) << hex;
    EXPECT_EQ(h.remaining_length, remaining) << hex;
  }
}

// Every proper prefix of every sample packet: PeekFrame waits, Decode rejects without
// crashing (the truncated frame's length byte no longer matches), and a frame whose header
// is rewritten to fit the truncated body decodes or fails cleanly.
TEST(TruncationTest, EveryPrefixOfEveryPacket) {
  for (Version v : {Version::k31, Version::k311, Version::k5}) {
    for (const Packet& p : SamplePackets(v)) {
      const std::string bytes = Enc(p, v);
      for (size_t n = 0; n < bytes.size(); ++n) {
        const std::string_view prefix = std::string_view(bytes).substr(0, n);
        FrameHeader h;
        CodecError e;
        ASSERT_EQ(Peek(prefix, &h, &e), FrameStatus::kNeedMore) << n;
        Packet out;
        EXPECT_FALSE(Decode(prefix, v, &out, &e));
        // Re-frame the truncated body with a consistent remaining length.
        FrameHeader full;
        ASSERT_EQ(Peek(bytes, &full, &e), FrameStatus::kComplete);
        if (n < full.header_size) continue;
        const std::string body(bytes.substr(full.header_size, n - full.header_size));
        const std::string reframed = testing::Frame(full.first_byte, body);
        if (Decode(reframed, v, &out, &e)) {
          // Only packets whose tail is optional or open-ended survive truncation.
          const auto t = full.type();
          EXPECT_TRUE(t == PacketType::kPublish || t == PacketType::kSubscribe ||
                      t == PacketType::kUnsubscribe || t == PacketType::kSuback ||
                      t == PacketType::kUnsuback || t == PacketType::kPuback ||
                      t == PacketType::kPubrec || t == PacketType::kPubrel ||
                      t == PacketType::kPubcomp || t == PacketType::kDisconnect ||
                      t == PacketType::kAuth)
              << testing::ToHex(reframed);
          std::string again;
          Encode(out, v, &again);
          EXPECT_EQ(MustDecode(again, v), out);
        } else {
          EXPECT_NE(e.reason_code, reason::kSuccess);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::mqtt
