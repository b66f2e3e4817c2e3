// MQTT UTF-8 validation (section 1.5.4). On the PUBLISH hot path (every topic name), so the
// common all-ASCII case is checked eight bytes at a time.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "mqtt/codec/codec.h"

namespace sluice::mqtt {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;
constexpr uint64_t kLowBits = 0x0101010101010101ull;

// True when all eight bytes are ASCII and none is zero.
inline bool AsciiNoNul(uint64_t v) {
  // (v - 0x01..) & ~v & 0x80.. is non-zero iff some byte is zero (exact for "any").
  return ((v | ((v - kLowBits) & ~v)) & kHighBits) == 0;
}

inline bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

bool IsValidMqttUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      if (AsciiNoNul(v)) {
        i += 8;
        continue;
      }
    }
    const uint8_t c = p[i];
    if (c < 0x80) {
      if (c == 0) return false;  // U+0000 is not allowed [MQTT-1.5.4-2]
      ++i;
      continue;
    }
    if (c < 0xC2) return false;  // stray continuation byte, or overlong 2-byte form
    if (c < 0xE0) {
      if (n - i < 2 || !IsContinuation(p[i + 1])) return false;
      i += 2;
      continue;
    }
    if (c < 0xF0) {
      if (n - i < 3) return false;
      const uint8_t b1 = p[i + 1];
      // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates U+D800..DFFF).
      const uint8_t lo = c == 0xE0 ? 0xA0 : 0x80;
      const uint8_t hi = c == 0xED ? 0x9F : 0xBF;
      if (b1 < lo || b1 > hi || !IsContinuation(p[i + 2])) return false;
      i += 3;
      continue;
    }
    if (c < 0xF5) {
      if (n - i < 4) return false;
      const uint8_t b1 = p[i + 1];
      // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
      const uint8_t lo = c == 0xF0 ? 0x90 : 0x80;
      const uint8_t hi = c == 0xF4 ? 0x8F : 0xBF;
      if (b1 < lo || b1 > hi || !IsContinuation(p[i + 2]) || !IsContinuation(p[i + 3])) {
        return false;
      }
      i += 4;
      continue;
    }
    return false;  // F5..FF never appear in UTF-8
  }
  return true;
}

}  // namespace sluice::mqtt
