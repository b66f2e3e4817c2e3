// Internal to mqtt/codec (not part of the public API): the bounds-checked byte reader and
// the appending writer shared by the packet codecs, variable byte integers, and the MQTT 5
// property codec (properties.cc). Thread-compatible.
#ifndef SLUICE_MQTT_CODEC_INTERNAL_H_
#define SLUICE_MQTT_CODEC_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "mqtt/codec/codec.h"
#include "mqtt/codec/packets.h"

namespace sluice::mqtt::internal {

inline constexpr size_t kMaxStringBytes = 65535;

// Fills *error and returns false, so that decoders can `return Fail(...)`.
inline bool Fail(CodecError* error, uint8_t reason_code, const char* message) {
  error->reason_code = reason_code;
  error->message = message;
  return false;
}

enum class VarintStatus { kOk, kNeedMore, kMalformed };

// Decodes a variable byte integer (at most 4 bytes, minimal encoding) from p[0..n).
inline VarintStatus DecodeVarint(const char* p, size_t n, uint32_t* value, size_t* length) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (i == n) return VarintStatus::kNeedMore;
    const uint8_t b = static_cast<uint8_t>(p[i]);
    v |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      // A multi-byte encoding ending in 0x00 is not the minimum length [MQTT-1.5.5-1].
      if (i > 0 && b == 0) return VarintStatus::kMalformed;
      *value = v;
      *length = i + 1;
      return VarintStatus::kOk;
    }
  }
  return VarintStatus::kMalformed;  // a fifth byte would be needed
}

inline size_t VarintSize(uint32_t v) {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

// What a Reader made without limits uses: a static, since the reader keeps a pointer to its
// limits (a `= {}` default argument would be a temporary gone at the end of the statement).
inline constexpr DecodeLimits kNoDecodeLimits{};

// Bounds-checked reads over a view of one frame's body. Every failing read reports
// Malformed Packet (0x81): a length that runs past the frame.
class Reader {
 public:
  explicit Reader(std::string_view data, const DecodeLimits& limits = kNoDecodeLimits)
      : p_(data.data()), end_(data.data() + data.size()), limits_(&limits) {}

  const DecodeLimits& limits() const { return *limits_; }

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }

  bool ReadByte(uint8_t* v, CodecError* e) {
    if (p_ == end_) return Fail(e, reason::kMalformedPacket, "packet truncated");
    *v = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool ReadU16(uint16_t* v, CodecError* e) {
    if (remaining() < 2) return Fail(e, reason::kMalformedPacket, "packet truncated");
    *v = static_cast<uint16_t>(static_cast<uint8_t>(p_[0]) << 8 | static_cast<uint8_t>(p_[1]));
    p_ += 2;
    return true;
  }
  bool ReadU32(uint32_t* v, CodecError* e) {
    if (remaining() < 4) return Fail(e, reason::kMalformedPacket, "packet truncated");
    *v = static_cast<uint32_t>(static_cast<uint8_t>(p_[0])) << 24 |
         static_cast<uint32_t>(static_cast<uint8_t>(p_[1])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p_[2])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p_[3]));
    p_ += 4;
    return true;
  }
  bool ReadVarint(uint32_t* v, CodecError* e) {
    size_t n = 0;
    if (DecodeVarint(p_, remaining(), v, &n) != VarintStatus::kOk) {
      return Fail(e, reason::kMalformedPacket, "bad variable byte integer");
    }
    p_ += n;
    return true;
  }
  // Two-byte length then that many bytes, as a view into the frame.
  bool ReadBinaryView(std::string_view* v, CodecError* e) {
    uint16_t n = 0;
    if (!ReadU16(&n, e)) return false;
    if (remaining() < n) return Fail(e, reason::kMalformedPacket, "length exceeds packet");
    *v = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool ReadBinary(std::string* v, CodecError* e) {
    std::string_view s;
    if (!ReadBinaryView(&s, e)) return false;
    v->assign(s.data(), s.size());
    return true;
  }
  // A UTF-8 Encoded String: ill-formed UTF-8 is a Malformed Packet [MQTT-1.5.4-1].
  bool ReadUtf8(std::string* v, CodecError* e) {
    std::string_view s;
    if (!ReadBinaryView(&s, e)) return false;
    if (!IsValidMqttUtf8(s)) return Fail(e, reason::kMalformedPacket, "invalid UTF-8 string");
    v->assign(s.data(), s.size());
    return true;
  }
  // Takes the next n bytes (n <= remaining(), checked by the caller).
  std::string_view Take(size_t n) {
    SLUICE_CHECK(n <= remaining());
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  std::string_view Rest() { return Take(remaining()); }

 private:
  const char* p_;
  const char* end_;
  const DecodeLimits* limits_;  // never null; outlives the reader
};

// Appends to a string the caller has already reserved (Encode reserves EncodedSize).
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void Byte(uint8_t b) { out_->push_back(static_cast<char>(b)); }
  void U16(uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_->append(b, 2);
  }
  void U32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out_->append(b, 4);
  }
  void Varint(uint32_t v) {
    SLUICE_CHECK(v <= kMaxRemainingLength);
    char b[4];
    size_t n = 0;
    do {
      uint8_t byte = v & 0x7F;
      v >>= 7;
      if (v != 0) byte |= 0x80;
      b[n++] = static_cast<char>(byte);
    } while (v != 0);
    out_->append(b, n);
  }
  void Raw(std::string_view s) { out_->append(s.data(), s.size()); }
  // Two-byte length prefix; strings longer than 65535 bytes are a caller bug.
  void String(std::string_view s) {
    SLUICE_CHECK_MSG(s.size() <= kMaxStringBytes, "MQTT string longer than 65535 bytes");
    U16(static_cast<uint16_t>(s.size()));
    Raw(s);
  }

 private:
  std::string* out_;
};

// Which packet a property block belongs to; selects the allowed set in the property table.
enum class PropertyScope : uint8_t {
  kConnect, kWill, kConnack, kPublish, kPuback, kPubrec, kPubrel, kPubcomp,
  kSubscribe, kSuback, kUnsubscribe, kUnsuback, kDisconnect, kAuth,
};

// Size of the property block's contents (excluding its length varint). Zero iff nothing set.
size_t PropertiesSize(const Properties& p);

// Writes the property length varint (`size` from PropertiesSize) and the properties in
// ascending identifier order.
void WriteProperties(const Properties& p, size_t size, Writer* w);

// The PUBLISH property block of a PublishView: the message's properties with the view's
// per-delivery overrides, in the same order WriteProperties uses.
size_t PublishViewPropertiesSize(const PublishView& v);
void WritePublishViewProperties(const PublishView& v, size_t size, Writer* w);

// Reads a property length and exactly that many bytes of properties into *out. Errors:
// 0x81 for unknown identifiers, identifiers not allowed in `scope`, bad lengths; 0x82 for
// duplicates and out-of-range values; 0x94 for topic alias 0.
bool ReadProperties(Reader* r, PropertyScope scope, Properties* out, CodecError* error);

// A Topic Name: non-empty, no wildcard characters (UTF-8 is checked by ReadUtf8).
inline bool IsValidTopicName(std::string_view topic) {
  return !topic.empty() && topic.find_first_of("+#") == std::string_view::npos;
}

}  // namespace sluice::mqtt::internal

#endif  // SLUICE_MQTT_CODEC_INTERNAL_H_
