// Internal to mqtt/codec: the one table of MQTT 5 properties (section 2.2.2.2). Each row
// says everything the codec knows about a property — identifier, wire type, the packets it
// may appear in, where it may repeat, the Properties member that holds it and the check its
// value must pass — and properties.cc derives the size, the writer and the reader of a
// property block (and of a PublishView's block) from it. Adding a property is one row here,
// its member in packets.h and its line in property_table_test's copy of the spec.
//
// Why a constexpr array of descriptors with member pointers rather than an X-macro: it is
// ordinary typed C++. The row builders (rows::Byte, U16, U32, Varints, Utf8, Binary,
// Utf8Pairs) accept only a member of the matching C++ type, so a wire type cannot disagree
// with its member; ValidTable() checks the rest at compile time (ascending unique ids, one
// member per row, checks that fit the type); and tests read the same array like any other.
// It costs nothing at run time: properties.cc expands the array at compile time (one
// template instantiation per row, its member pointer and check as constants) for the
// encoders and for each row's reader, which compiles to what the hand-written code was
// (properties_bench measures it).
#ifndef SLUICE_MQTT_CODEC_PROPERTY_TABLE_H_
#define SLUICE_MQTT_CODEC_PROPERTY_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/codec/internal.h"
#include "mqtt/codec/packets.h"

namespace sluice::mqtt::internal {

// Data representations of section 1.5 as properties use them.
enum class WireType : uint8_t {
  kByte,      // 1.5.1
  kU16,       // 1.5.2 Two Byte Integer
  kU32,       // 1.5.3 Four Byte Integer
  kVarint,    // 1.5.5 Variable Byte Integer
  kUtf8,      // 1.5.4 UTF-8 Encoded String
  kBinary,    // 1.5.6 Binary Data
  kUtf8Pair,  // 1.5.7 UTF-8 String Pair
};

// A rule on a property's value beyond its type. A failure gives the row's reason code and
// message (the spec's Protocol Error, or Topic Alias invalid for topic alias 0).
enum class ValueCheck : uint8_t {
  kNone,
  kZeroOrOne,  // a byte that must be 0 or 1
  kNonZero,    // an integer that must not be 0
  kTopicName,  // a string that must be a valid Topic Name (IsValidTopicName)
};

struct PropertyCheck {
  ValueCheck kind = ValueCheck::kNone;
  uint8_t reason_code = 0;
  const char* message = nullptr;  // CodecError::message when the check fails
};

// Sets of PropertyScope, one bit each.
namespace scope {
constexpr uint16_t Bit(PropertyScope s) { return static_cast<uint16_t>(1u << static_cast<int>(s)); }
inline constexpr uint16_t kConnect = Bit(PropertyScope::kConnect);
inline constexpr uint16_t kWill = Bit(PropertyScope::kWill);
inline constexpr uint16_t kConnack = Bit(PropertyScope::kConnack);
inline constexpr uint16_t kPublish = Bit(PropertyScope::kPublish);
inline constexpr uint16_t kPuback = Bit(PropertyScope::kPuback);
inline constexpr uint16_t kPubrec = Bit(PropertyScope::kPubrec);
inline constexpr uint16_t kPubrel = Bit(PropertyScope::kPubrel);
inline constexpr uint16_t kPubcomp = Bit(PropertyScope::kPubcomp);
inline constexpr uint16_t kSubscribe = Bit(PropertyScope::kSubscribe);
inline constexpr uint16_t kSuback = Bit(PropertyScope::kSuback);
inline constexpr uint16_t kUnsubscribe = Bit(PropertyScope::kUnsubscribe);
inline constexpr uint16_t kUnsuback = Bit(PropertyScope::kUnsuback);
inline constexpr uint16_t kDisconnect = Bit(PropertyScope::kDisconnect);
inline constexpr uint16_t kAuth = Bit(PropertyScope::kAuth);
inline constexpr uint16_t kAll = Bit(PropertyScope::kAuth) * 2 - 1;
inline constexpr uint16_t kPublishWill = kPublish | kWill;
}  // namespace scope

struct PropertyDescriptor {
  uint8_t id = 0;
  const char* name = nullptr;  // lower case, as the spec names it
  WireType type = WireType::kByte;
  uint16_t scopes = 0;         // scope:: bits of the packets it may appear in
  uint16_t repeat_scopes = 0;  // where it may appear more than once (else: duplicate, 0x82)
  PropertyCheck check;
  // The member holding the value: exactly one is set, the one for `type`.
  std::optional<uint8_t> Properties::*u8 = nullptr;       // kByte
  std::optional<uint16_t> Properties::*u16 = nullptr;     // kU16
  std::optional<uint32_t> Properties::*u32 = nullptr;     // kU32
  std::optional<std::string> Properties::*str = nullptr;  // kUtf8, kBinary
  std::vector<uint32_t> Properties::*varints = nullptr;   // kVarint: every occurrence, in order
  UserProperties Properties::*pairs = nullptr;            // kUtf8Pair: every occurrence, in order
};

// Row builders: one per wire type, each taking only a member of its C++ type; and checks.
namespace rows {
using Check = PropertyCheck;
constexpr Check ZeroOrOne(const char* message) {
  return {ValueCheck::kZeroOrOne, reason::kProtocolError, message};
}
constexpr Check NonZero(const char* message, uint8_t reason_code = reason::kProtocolError) {
  return {ValueCheck::kNonZero, reason_code, message};
}
constexpr Check TopicName(const char* message) {
  return {ValueCheck::kTopicName, reason::kProtocolError, message};
}
constexpr PropertyDescriptor Byte(uint8_t id, const char* name,
                                  std::optional<uint8_t> Properties::*m, uint16_t scopes,
                                  Check check = {}) {
  PropertyDescriptor d{id, name, WireType::kByte, scopes, 0, check};
  d.u8 = m;
  return d;
}
constexpr PropertyDescriptor U16(uint8_t id, const char* name,
                                 std::optional<uint16_t> Properties::*m, uint16_t scopes,
                                 Check check = {}) {
  PropertyDescriptor d{id, name, WireType::kU16, scopes, 0, check};
  d.u16 = m;
  return d;
}
constexpr PropertyDescriptor U32(uint8_t id, const char* name,
                                 std::optional<uint32_t> Properties::*m, uint16_t scopes,
                                 Check check = {}) {
  PropertyDescriptor d{id, name, WireType::kU32, scopes, 0, check};
  d.u32 = m;
  return d;
}
constexpr PropertyDescriptor Utf8(uint8_t id, const char* name,
                                  std::optional<std::string> Properties::*m, uint16_t scopes,
                                  Check check = {}) {
  PropertyDescriptor d{id, name, WireType::kUtf8, scopes, 0, check};
  d.str = m;
  return d;
}
constexpr PropertyDescriptor Binary(uint8_t id, const char* name,
                                    std::optional<std::string> Properties::*m, uint16_t scopes) {
  PropertyDescriptor d{id, name, WireType::kBinary, scopes, 0, {}};
  d.str = m;
  return d;
}
constexpr PropertyDescriptor Varints(uint8_t id, const char* name,
                                     std::vector<uint32_t> Properties::*m, uint16_t scopes,
                                     uint16_t repeat_scopes, Check check = {}) {
  PropertyDescriptor d{id, name, WireType::kVarint, scopes, repeat_scopes, check};
  d.varints = m;
  return d;
}
constexpr PropertyDescriptor Utf8Pairs(uint8_t id, const char* name,
                                       UserProperties Properties::*m, uint16_t scopes,
                                       uint16_t repeat_scopes) {
  PropertyDescriptor d{id, name, WireType::kUtf8Pair, scopes, repeat_scopes, {}};
  d.pairs = m;
  return d;
}
}  // namespace rows

// Property identifiers the codec names in code (the PublishView overrides).
inline constexpr uint8_t kMessageExpiryIntervalId = 0x02;
inline constexpr uint8_t kSubscriptionIdentifierId = 0x0B;
inline constexpr uint8_t kTopicAliasId = 0x23;
inline constexpr uint8_t kMaxPropertyId = 0x2A;

// In ascending identifier order: the order the writer emits them in.
inline constexpr auto kProperties = [] {
  using namespace rows;
  using P = Properties;
  namespace s = scope;
  return std::array{
      Byte(0x01, "payload format indicator", &P::payload_format_indicator, s::kPublishWill,
           ZeroOrOne("payload format indicator not 0/1")),
      U32(0x02, "message expiry interval", &P::message_expiry_interval, s::kPublishWill),
      Utf8(0x03, "content type", &P::content_type, s::kPublishWill),
      Utf8(0x08, "response topic", &P::response_topic, s::kPublishWill,
           TopicName("response topic is not a valid topic name")),
      Binary(0x09, "correlation data", &P::correlation_data, s::kPublishWill),
      // Several in a PUBLISH from the server: one per matching subscription (3.3.2.3.8).
      Varints(0x0B, "subscription identifier", &P::subscription_identifiers,
              s::kPublish | s::kSubscribe, s::kPublish, NonZero("subscription identifier 0")),
      U32(0x11, "session expiry interval", &P::session_expiry_interval,
          s::kConnect | s::kConnack | s::kDisconnect),
      Utf8(0x12, "assigned client identifier", &P::assigned_client_identifier, s::kConnack),
      U16(0x13, "server keep alive", &P::server_keep_alive, s::kConnack),
      Utf8(0x15, "authentication method", &P::authentication_method,
           s::kConnect | s::kConnack | s::kAuth),
      Binary(0x16, "authentication data", &P::authentication_data,
             s::kConnect | s::kConnack | s::kAuth),
      Byte(0x17, "request problem information", &P::request_problem_information, s::kConnect,
           ZeroOrOne("request problem information not 0/1")),
      U32(0x18, "will delay interval", &P::will_delay_interval, s::kWill),
      Byte(0x19, "request response information", &P::request_response_information, s::kConnect,
           ZeroOrOne("request response information not 0/1")),
      Utf8(0x1A, "response information", &P::response_information, s::kConnack),
      Utf8(0x1C, "server reference", &P::server_reference, s::kConnack | s::kDisconnect),
      Utf8(0x1F, "reason string", &P::reason_string,
           s::kConnack | s::kPuback | s::kPubrec | s::kPubrel | s::kPubcomp | s::kSuback |
               s::kUnsuback | s::kDisconnect | s::kAuth),
      U16(0x21, "receive maximum", &P::receive_maximum, s::kConnect | s::kConnack,
          NonZero("receive maximum 0")),
      U16(0x22, "topic alias maximum", &P::topic_alias_maximum, s::kConnect | s::kConnack),
      U16(0x23, "topic alias", &P::topic_alias, s::kPublish,
          NonZero("topic alias 0", reason::kTopicAliasInvalid)),
      Byte(0x24, "maximum qos", &P::maximum_qos, s::kConnack, ZeroOrOne("maximum qos not 0/1")),
      Byte(0x25, "retain available", &P::retain_available, s::kConnack,
           ZeroOrOne("retain available not 0/1")),
      Utf8Pairs(0x26, "user property", &P::user_properties, s::kAll, s::kAll),
      U32(0x27, "maximum packet size", &P::maximum_packet_size, s::kConnect | s::kConnack,
          NonZero("maximum packet size 0")),
      Byte(0x28, "wildcard subscription available", &P::wildcard_subscription_available,
           s::kConnack, ZeroOrOne("wildcard subscription available not 0/1")),
      Byte(0x29, "subscription identifiers available", &P::subscription_identifiers_available,
           s::kConnack, ZeroOrOne("subscription identifiers available not 0/1")),
      Byte(0x2A, "shared subscription available", &P::shared_subscription_available,
           s::kConnack, ZeroOrOne("shared subscription available not 0/1")),
  };
}();
inline constexpr size_t kPropertyCount = kProperties.size();

// The compile-time rules of the table (a violation fails the build).
constexpr bool ValidTable() {
  int previous_id = 0;
  for (const PropertyDescriptor& d : kProperties) {
    if (d.id <= previous_id || d.id > kMaxPropertyId || d.name == nullptr) return false;
    previous_id = d.id;
    const int members = (d.u8 != nullptr) + (d.u16 != nullptr) + (d.u32 != nullptr) +
                        (d.str != nullptr) + (d.varints != nullptr) + (d.pairs != nullptr);
    if (members != 1 || d.scopes == 0 || (d.repeat_scopes & ~d.scopes) != 0) return false;
    // Only the list members can hold a repeated property.
    const bool list = d.type == WireType::kVarint || d.type == WireType::kUtf8Pair;
    if (d.repeat_scopes != 0 && !list) return false;
    const bool integer = d.type == WireType::kByte || d.type == WireType::kU16 ||
                         d.type == WireType::kU32 || d.type == WireType::kVarint;
    switch (d.check.kind) {
      case ValueCheck::kNone: break;
      case ValueCheck::kZeroOrOne: if (d.type != WireType::kByte) return false; break;
      case ValueCheck::kNonZero: if (!integer) return false; break;
      case ValueCheck::kTopicName: if (d.type != WireType::kUtf8) return false; break;
    }
    if (d.check.kind != ValueCheck::kNone && d.check.message == nullptr) return false;
  }
  return true;
}
static_assert(ValidTable(), "kProperties breaks a rule of the table (see ValidTable)");

// Index into kProperties by identifier; -1 for identifiers the spec leaves unassigned.
inline constexpr std::array<int8_t, kMaxPropertyId + 1> kPropertyIndex = [] {
  std::array<int8_t, kMaxPropertyId + 1> index{};
  for (int8_t& i : index) i = -1;
  for (size_t i = 0; i < kPropertyCount; ++i) index[kProperties[i].id] = static_cast<int8_t>(i);
  return index;
}();

// The index in kProperties of `id`'s row, or -1 when the identifier is not assigned.
constexpr int PropertyRow(uint32_t id) { return id > kMaxPropertyId ? -1 : kPropertyIndex[id]; }

}  // namespace sluice::mqtt::internal

#endif  // SLUICE_MQTT_CODEC_PROPERTY_TABLE_H_
