// The MQTT codec: a pure encoder/decoder for every 3.1.1 and 5.0 packet. No I/O, no
// allocation beyond the decoded values (bounded by the frame's size). Thread-compatible:
// free functions over caller-owned buffers.
//
// Framing: the transport accumulates bytes and calls PeekFrame until a whole frame is there,
// then Decode(frame). Every malformed input is reported as a CodecError carrying the MQTT 5
// reason code the broker sends in CONNACK/DISCONNECT (3.1.1 just closes the connection).
#ifndef SLUICE_MQTT_CODEC_CODEC_H_
#define SLUICE_MQTT_CODEC_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <optional>
#include <vector>

#include "mqtt/codec/packets.h"

namespace sluice::mqtt {

inline constexpr uint32_t kMaxRemainingLength = 268'435'455;  // 4-byte varint maximum

struct CodecError {
  uint8_t reason_code = reason::kMalformedPacket;  // 0x81, 0x82, 0x84, 0x90, 0x95, ...
  std::string message;  // human-readable, for logs and the reason string
};

struct FrameHeader {
  uint8_t first_byte = 0;         // packet type << 4 | flags
  uint32_t remaining_length = 0;
  uint32_t header_size = 0;       // 2..5 bytes
  uint32_t frame_size() const { return header_size + remaining_length; }
  PacketType type() const { return static_cast<PacketType>(first_byte >> 4); }
};

enum class FrameStatus { kComplete, kNeedMore, kError };

// Looks at the start of `buffer`. kComplete: *header describes a frame and buffer holds all
// of it. kNeedMore: not enough bytes yet (header may be partially filled). kError: *error set
// (bad remaining length encoding, packet type 0, or frame larger than max_packet_size, which
// gives reason 0x95 before the body is buffered).
FrameStatus PeekFrame(std::string_view buffer, uint32_t max_packet_size, FrameHeader* header,
                      CodecError* error);

// Decodes one whole frame (as delimited by PeekFrame). For CONNECT, `version` is ignored and
// read from the packet; for every other packet it is the connection's negotiated version.
// Validates fixed-header flags, UTF-8 strings (no U+0000, no surrogates), topic names,
// property sets per packet type, duplicate properties, QoS and reserved bits, and that the
// body is consumed exactly. Returns false and fills *error on any violation.
bool Decode(std::string_view frame, Version version, Packet* out, CodecError* error);

// Limits on what a client controls within a frame, checked while decoding (before the
// decoded values are allocated). 0 = unlimited.
struct DecodeLimits {
  // User Property entries in one property block (a 5-byte entry decodes to ~64 bytes, so a
  // frame of them would cost ~13x its size in memory): beyond it, 0x97 Quota exceeded.
  uint32_t max_user_properties = 0;
};
bool Decode(std::string_view frame, Version version, Packet* out, CodecError* error,
            const DecodeLimits& limits);

// Appends the encoding of `packet` for a connection of `version` to *out. 5.0-only fields
// are omitted for 3.x. Never fails for values the decoder could produce; the caller keeps
// strings under 65535 bytes.
void Encode(const Packet& packet, Version version, std::string* out);

// Size in bytes Encode would append (for maximum-packet-size checks without encoding).
size_t EncodedSize(const Packet& packet, Version version);

// An outgoing PUBLISH described by reference, so that a message delivered to many
// subscribers is encoded straight from its one stored copy (no per-delivery copy of topic,
// payload or properties). The per-delivery properties override the message's own:
// subscription identifiers, topic alias and message expiry interval.
struct PublishView {
  std::string_view topic;  // empty when topic_alias names an alias the client already knows
  std::string_view payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;
  const Properties* properties = nullptr;  // the message's properties (5.0); may be null
  const std::vector<uint32_t>* subscription_identifiers = nullptr;
  std::optional<uint16_t> topic_alias;
  std::optional<uint32_t> message_expiry_interval;  // replaces the message's when set
};
// Exactly what Encode(Publish) would produce for the equivalent Publish value.
void EncodePublish(const PublishView& publish, Version version, std::string* out);
size_t EncodedPublishSize(const PublishView& publish, Version version);

// A PUBLISH's property block as the commit log stores it (storage/log Record::properties):
// a minimal MQTT 5 PUBLISH frame (topic "p", no payload), so the decoder that checks client
// input checks what comes back from disk. "" when there is no property. Topic alias and
// subscription identifiers are per connection: the caller leaves them out.
std::string EncodeStoredProperties(const Properties& properties);
// The inverse. Also takes a bare property block (what tests and older tools wrote): no
// property identifier is 0x30, so the first byte tells the two forms apart. "" gives no
// properties. False, with *error, on anything else.
bool DecodeStoredProperties(std::string_view stored, Properties* out, CodecError* error);

// UTF-8 per MQTT rules: well-formed, no U+0000, no surrogate code points.
bool IsValidMqttUtf8(std::string_view s);

}  // namespace sluice::mqtt

#endif  // SLUICE_MQTT_CODEC_CODEC_H_
