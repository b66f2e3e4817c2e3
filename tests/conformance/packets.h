// Independent MQTT 3.1.1 / 5.0 packet encoder and decoder for the conformance tests.
//
// Deliberately shares no code with //mqtt/codec: an independent oracle catches the bugs a
// shared codec would hide on both sides of the wire. It covers only what the tests need, keeps
// encoding explicit (tests can still send hand-written bytes with FromHex) and decodes strictly:
// a frame that does not parse comes back with a non-empty `error`.
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::conformance {

// Raw octets. std::string keeps concatenation and comparison short in tests.
using Bytes = std::string;

// "20 02 00 00": upper-case hex, one space between octets.
std::string Hex(std::string_view bytes);
// Inverse of Hex; whitespace is ignored. Aborts on malformed hex (a bug in the test itself).
Bytes FromHex(std::string_view hex);

enum class Version : uint8_t { kV311 = 4, kV5 = 5 };
inline constexpr Version kV311 = Version::kV311;
inline constexpr Version kV5 = Version::kV5;

// Control packet types: the high nibble of the first byte.
enum PacketType : uint8_t {
  kConnect = 1, kConnack, kPublish, kPuback, kPubrec, kPubrel, kPubcomp,
  kSubscribe, kSuback, kUnsubscribe, kUnsuback, kPingreq, kPingresp, kDisconnect, kAuth,
};

// MQTT 5 property identifiers (spec 2.2.2.2).
enum PropId : uint8_t {
  kPayloadFormat = 0x01, kMessageExpiry = 0x02, kContentType = 0x03, kResponseTopic = 0x08,
  kCorrelationData = 0x09, kSubscriptionId = 0x0B, kSessionExpiry = 0x11,
  kAssignedClientId = 0x12, kServerKeepAlive = 0x13, kAuthMethod = 0x15,
  kRequestProblemInfo = 0x17, kWillDelay = 0x18, kRequestResponseInfo = 0x19,
  kResponseInfo = 0x1A, kServerReference = 0x1C, kReasonString = 0x1F, kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22, kTopicAlias = 0x23, kMaximumQos = 0x24, kRetainAvailable = 0x25,
  kUserProperty = 0x26, kMaximumPacketSize = 0x27, kWildcardAvailable = 0x28,
  kSubscriptionIdAvailable = 0x29, kSharedSubAvailable = 0x2A,
};

// One property: numeric ids use `num`, string/binary ids `str`, user properties `str`=`str2`.
struct Property {
  uint8_t id = 0;
  uint32_t num = 0;
  std::string str;
  std::string str2;
};

// An ordered property list, as sent or as received.
class Properties {
 public:
  Properties& Add(uint8_t id, uint32_t num);          // byte, two-byte, four-byte, varint ids
  Properties& Add(uint8_t id, std::string_view str);  // string and binary ids
  Properties& AddUser(std::string_view key, std::string_view value);

  // Property Length varint followed by the properties.
  Bytes Encode() const;
  // Decodes a property block (length prefix included) at *pos and advances *pos.
  // Returns an empty string on success, otherwise what was wrong.
  std::string Decode(std::string_view in, size_t* pos);

  bool Has(uint8_t id) const;
  std::optional<uint32_t> Num(uint8_t id) const;     // first occurrence
  std::optional<std::string> Str(uint8_t id) const;  // first occurrence
  std::vector<uint32_t> AllNums(uint8_t id) const;   // e.g. every Subscription Identifier
  std::vector<std::pair<std::string, std::string>> UserProperties() const;
  const std::vector<Property>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<Property> items_;
};

// ---- Encoders -------------------------------------------------------------------------------

Bytes U16(uint16_t v);
Bytes VarInt(uint32_t v);
Bytes Str(std::string_view s);  // two-byte length prefix + bytes
// Fixed header (first byte + remaining length) + body.
Bytes Frame(uint8_t first_byte, std::string_view body);

struct Will {
  std::string topic;
  Bytes payload;
  uint8_t qos = 0;
  bool retain = false;
  Properties props;  // 5.0 only
};

struct ConnectSpec {
  Version version = kV5;
  std::string client_id;
  bool clean = true;  // Clean Session (3.1.1) / Clean Start (5.0)
  uint16_t keep_alive_s = 60;
  Properties props;  // 5.0 only
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
};
Bytes Connect(const ConnectSpec& spec);

struct PublishSpec {
  std::string topic;
  Bytes payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t id = 0;   // only encoded when qos > 0
  Properties props;  // 5.0 only
};
Bytes Publish(Version v, const PublishSpec& spec);

struct SubSpec {
  std::string filter;
  uint8_t qos = 0;
  bool no_local = false;  // 5.0
  bool rap = false;       // Retain As Published, 5.0
  uint8_t rh = 0;         // Retain Handling, 5.0
};
Bytes Subscribe(Version v, uint16_t id, const std::vector<SubSpec>& subs,
                const Properties& props = {});
Bytes Unsubscribe(Version v, uint16_t id, const std::vector<std::string>& filters,
                  const Properties& props = {});
// PUBACK / PUBREC / PUBREL / PUBCOMP; the short form (no reason byte) when reason is 0x00.
Bytes Ack(Version v, PacketType type, uint16_t id, uint8_t reason = 0);
// "E0 00" when reason is 0 and there are no properties.
Bytes Disconnect(Version v, uint8_t reason = 0, const Properties& props = {});
Bytes Pingreq();

// ---- Decoder --------------------------------------------------------------------------------

// A decoded frame; which fields are meaningful depends on `type`.
struct Packet {
  uint8_t type = 0;
  uint8_t flags = 0;
  std::string error;             // non-empty if the frame did not decode
  bool session_present = false;  // CONNACK
  uint8_t reason = 0;            // CONNACK code, ack/DISCONNECT reason (0 when omitted)
  std::string topic;             // PUBLISH
  Bytes payload;                 // PUBLISH
  uint8_t qos = 0;               // PUBLISH
  bool retain = false;           // PUBLISH
  bool dup = false;              // PUBLISH
  uint16_t id = 0;               // packet identifier, where present
  std::vector<uint8_t> reasons;  // SUBACK / UNSUBACK payload
  Properties props;              // 5.0
};
// Decodes one whole frame (as returned by RawClient::Read). Server-to-client packets only.
Packet Decode(Version v, std::string_view frame);

}  // namespace sluice::conformance
