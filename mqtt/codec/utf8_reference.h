// A deliberately plain UTF-8 validator (code point by code point, range checks after
// decoding) with MQTT's rules, as the oracle that the fast IsValidMqttUtf8 is checked
// against in unit tests and in the decoder fuzz target. Test-only.
#ifndef SLUICE_MQTT_CODEC_UTF8_REFERENCE_H_
#define SLUICE_MQTT_CODEC_UTF8_REFERENCE_H_

#include <cstdint>
#include <string_view>

namespace sluice::mqtt::testing {

inline bool ReferenceValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = s[i];
    int extra;
    uint32_t cp;
    if (c < 0x80) { extra = 0; cp = c; }
    else if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
    else return false;
    if (s.size() - i < static_cast<size_t>(1 + extra)) return false;  // truncated
    for (int k = 1; k <= extra; ++k) {
      const uint8_t b = s[i + k];
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra]) return false;              // overlong
    if (cp > 0x10FFFF) return false;                 // beyond Unicode
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate
    if (cp == 0) return false;                       // MQTT forbids U+0000
    i += 1 + extra;
  }
  return true;
}

}  // namespace sluice::mqtt::testing

#endif  // SLUICE_MQTT_CODEC_UTF8_REFERENCE_H_
