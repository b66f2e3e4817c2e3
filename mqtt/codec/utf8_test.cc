// IsValidMqttUtf8: hand-picked cases from RFC 3629 and the MQTT rules, and an exhaustive
// comparison with a slow reference decoder over all strings of up to three bytes (placed at
// every offset of the eight-byte fast path).
#include <cstdint>
#include <string>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/utf8_reference.h"
#include "mqtt/codec/test_util.h"
#include "gtest/gtest.h"

namespace sluice::mqtt {
namespace {

using testing::FromHex;

using testing::ReferenceValidUtf8;

TEST(Utf8Test, HandPickedCases) {
  EXPECT_TRUE(IsValidMqttUtf8(""));
  EXPECT_TRUE(IsValidMqttUtf8("sensors/room-1/temperature"));
  EXPECT_TRUE(IsValidMqttUtf8("caf\xc3\xa9"));              // é
  EXPECT_TRUE(IsValidMqttUtf8("\xe2\x82\xac"));             // €
  EXPECT_TRUE(IsValidMqttUtf8("\xf0\x9f\x98\x80"));         // U+1F600
  EXPECT_TRUE(IsValidMqttUtf8("\xed\x9f\xbf"));             // U+D7FF
  EXPECT_TRUE(IsValidMqttUtf8("\xee\x80\x80"));             // U+E000
  EXPECT_TRUE(IsValidMqttUtf8("\xf4\x8f\xbf\xbf"));         // U+10FFFF
  EXPECT_TRUE(IsValidMqttUtf8("\xef\xbf\xbf"));             // U+FFFF (non-character: allowed)
  EXPECT_TRUE(IsValidMqttUtf8("\x01\x1f\x7f"));             // control characters: allowed
  EXPECT_FALSE(IsValidMqttUtf8(std::string("\0", 1)));
  EXPECT_FALSE(IsValidMqttUtf8(std::string("abcdefg\0hijklmno", 16)));  // NUL in fast path
  EXPECT_FALSE(IsValidMqttUtf8(std::string("abcdefghijklmno\0", 16)));
  EXPECT_FALSE(IsValidMqttUtf8("\xc0\x80"));                // overlong NUL
  EXPECT_FALSE(IsValidMqttUtf8("\xc1\xbf"));                // overlong
  EXPECT_FALSE(IsValidMqttUtf8("\xe0\x80\x80"));
  EXPECT_FALSE(IsValidMqttUtf8("\xe0\x9f\xbf"));
  EXPECT_FALSE(IsValidMqttUtf8("\xf0\x80\x80\x80"));
  EXPECT_FALSE(IsValidMqttUtf8("\xf0\x8f\xbf\xbf"));
  EXPECT_FALSE(IsValidMqttUtf8("\xed\xa0\x80"));            // U+D800
  EXPECT_FALSE(IsValidMqttUtf8("\xed\xbf\xbf"));            // U+DFFF
  EXPECT_FALSE(IsValidMqttUtf8("\xf4\x90\x80\x80"));        // U+110000
  EXPECT_FALSE(IsValidMqttUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidMqttUtf8("\xff"));
  EXPECT_FALSE(IsValidMqttUtf8("\x80"));                    // lone continuation
  EXPECT_FALSE(IsValidMqttUtf8("\xc3"));                    // truncated
  EXPECT_FALSE(IsValidMqttUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidMqttUtf8("\xf0\x9f\x98"));
  EXPECT_FALSE(IsValidMqttUtf8("\xe2\x28\xa1"));            // bad continuation
  EXPECT_FALSE(IsValidMqttUtf8("abcdefgh\xc3"));            // truncated after the fast path
}

TEST(Utf8Test, BadByteAtEveryPositionOfALongString) {
  for (size_t len : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 64u}) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string s(len, 'a');
      s[pos] = '\xff';
      EXPECT_FALSE(IsValidMqttUtf8(s)) << len << " " << pos;
      s[pos] = '\0';
      EXPECT_FALSE(IsValidMqttUtf8(s)) << len << " " << pos;
      s[pos] = 'z';
      EXPECT_TRUE(IsValidMqttUtf8(s));
    }
  }
  // A multi-byte character straddling the eight-byte boundary.
  for (size_t pos = 0; pos < 12; ++pos) {
    std::string s(16, 'a');
    s.replace(pos, 4, "\xf0\x9f\x98\x80");
    EXPECT_TRUE(IsValidMqttUtf8(s)) << pos;
  }
}

TEST(Utf8Test, AgreesWithReferenceOnAllShortStrings) {
  std::string s;
  for (uint32_t n = 0; n < (1u << 24); ++n) {
    const uint8_t b0 = n >> 16, b1 = n >> 8, b2 = n;
    // Every 1-, 2- and 3-byte string (1- and 2-byte ones when the higher bytes are zero).
    for (int len = 1; len <= 3; ++len) {
      if (len < 3 && (n >> (8 * len)) != 0) continue;
      s.clear();
      if (len == 3) s.push_back(static_cast<char>(b0));
      if (len >= 2) s.push_back(static_cast<char>(b1));
      s.push_back(static_cast<char>(b2));
      ASSERT_EQ(IsValidMqttUtf8(s), ReferenceValidUtf8(s)) << testing::ToHex(s);
    }
  }
}

TEST(Utf8Test, AgreesWithReferenceOnFourByteSequencesInsideAscii) {
  // Lead bytes F0..F7 with a sweep of continuation patterns, after 6 ASCII bytes so the
  // sequence crosses the fast path's eight-byte boundary.
  for (int lead = 0xEE; lead <= 0xF8; ++lead) {
    for (int b1 = 0x70; b1 <= 0xC5; ++b1) {
      for (int b2 : {0x7F, 0x80, 0xBF, 0xC0}) {
        for (int b3 : {0x00, 0x80, 0xA5, 0xBF, 0xC0}) {
          const std::string s = std::string("abcdef") + static_cast<char>(lead) +
                                static_cast<char>(b1) + static_cast<char>(b2) +
                                static_cast<char>(b3) + "xyz";
          ASSERT_EQ(IsValidMqttUtf8(s), ReferenceValidUtf8(s)) << testing::ToHex(s);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::mqtt
