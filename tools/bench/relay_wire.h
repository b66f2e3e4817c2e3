// relay_wire: the few MQTT 3.1.1/5.0 wire operations the bare relay needs, parsed and
// encoded by hand (no allocation, no validation beyond what keeps the parser in bounds):
// framing, CONNECT's protocol level, PUBLISH views, SUBACK/UNSUBACK for a SUBSCRIBE, the
// 2-byte acknowledgements and re-encoding a PUBLISH for a receiver of another QoS/version.
//
// Deliberately not the broker's codec: the relay is a floor, and what it must not do (UTF-8
// checks, property validation, building packet values) is exactly what the codec does.
// Limits: 5.0 properties of a PUBLISH are forwarded as they are (a topic alias would break:
// no relay client may use them); 3.1.1 receivers of a 5.0 PUBLISH lose its properties.
// Pure functions; thread-safe. Errors: parsers return false on truncated input.
#ifndef SLUICE_TOOLS_BENCH_RELAY_WIRE_H_
#define SLUICE_TOOLS_BENCH_RELAY_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::bench::wire {

// Packet types (first byte >> 4).
inline constexpr uint8_t kConnect = 1, kPublish = 3, kPuback = 4, kPubrec = 5, kPubrel = 6,
                         kPubcomp = 7, kSubscribe = 8, kUnsubscribe = 10, kPingreq = 12,
                         kDisconnect = 14;

enum class FrameStatus { kComplete, kNeedMore, kMalformed };

struct Frame {
  uint8_t first_byte = 0;
  uint32_t header_bytes = 0;  // fixed header: 2..5
  uint32_t body_bytes = 0;    // remaining length
  uint8_t type() const { return first_byte >> 4; }
  size_t size() const { return size_t{header_bytes} + body_bytes; }
};

// Looks at the start of `in`: kComplete when a whole frame is there.
FrameStatus PeekFrame(std::string_view in, Frame* frame);

// CONNECT body → protocol level (3 = 3.1, 4 = 3.1.1, 5 = 5.0).
bool ConnectLevel(std::string_view body, uint8_t* level);

struct PublishView {
  uint8_t qos = 0;
  uint16_t packet_id = 0;       // qos > 0
  std::string_view topic;
  std::string_view properties;  // 5.0 only: the property length varint and the properties
  std::string_view payload;
};
bool ParsePublish(uint8_t first_byte, std::string_view body, bool v5, PublishView* out);

// Appends `p` as a PUBLISH at `qos` (retain and dup clear) for a receiver speaking 5.0 (v5)
// or 3.1.1. Returns the offset in *out of its packet id (qos > 0), else std::string::npos.
size_t AppendPublish(const PublishView& p, uint8_t qos, bool v5, uint16_t packet_id,
                     std::string* out);

// Appends the SUBACK for a SUBSCRIBE body: every filter granted the QoS it asked for.
// *max_qos is raised to the highest QoS granted.
bool AppendSuback(std::string_view body, bool v5, std::string* out, uint8_t* max_qos);
// Appends the UNSUBACK for an UNSUBSCRIBE body (5.0: success for every filter).
bool AppendUnsuback(std::string_view body, bool v5, std::string* out);
// CONNACK: session not present, success, no properties.
void AppendConnack(bool v5, std::string* out);
// PUBACK (0x40), PUBREC (0x50), PUBREL (0x62), PUBCOMP (0x70): 2-byte packet id, reason
// success implied (valid in both versions).
void AppendAck(uint8_t first_byte, uint16_t packet_id, std::string* out);
void AppendPingresp(std::string* out);

void AppendRemainingLength(uint32_t n, std::string* out);

}  // namespace sluice::bench::wire

#endif  // SLUICE_TOOLS_BENCH_RELAY_WIRE_H_
