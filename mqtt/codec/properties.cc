// MQTT 5 properties (section 2.2.2): one table of identifier -> (type, packets allowed in),
// and the encode/size/decode of a property block. The table is the single source of truth
// for "which property may appear where"; value-range rules live in ReadProperties.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "mqtt/codec/internal.h"

namespace sluice::mqtt::internal {
namespace {

enum class PropType : uint8_t { kNone, kByte, kU16, kU32, kVarint, kUtf8, kBinary, kPair };

struct PropSpec {
  PropType type = PropType::kNone;
  uint16_t scopes = 0;  // bit per PropertyScope
};

constexpr uint16_t S(PropertyScope s) { return static_cast<uint16_t>(1u << static_cast<int>(s)); }

constexpr uint16_t kPublishWill = S(PropertyScope::kPublish) | S(PropertyScope::kWill);
constexpr uint16_t kAllScopes = 0x3FFF;
constexpr uint16_t kReasonStringScopes =
    S(PropertyScope::kConnack) | S(PropertyScope::kPuback) | S(PropertyScope::kPubrec) |
    S(PropertyScope::kPubrel) | S(PropertyScope::kPubcomp) | S(PropertyScope::kSuback) |
    S(PropertyScope::kUnsuback) | S(PropertyScope::kDisconnect) | S(PropertyScope::kAuth);
constexpr uint16_t kConnectConnack = S(PropertyScope::kConnect) | S(PropertyScope::kConnack);
constexpr uint16_t kAuthScopes =
    S(PropertyScope::kConnect) | S(PropertyScope::kConnack) | S(PropertyScope::kAuth);

constexpr size_t kMaxPropertyId = 0x2A;

constexpr std::array<PropSpec, kMaxPropertyId + 1> MakeTable() {
  std::array<PropSpec, kMaxPropertyId + 1> t{};
  t[0x01] = {PropType::kByte, kPublishWill};    // payload format indicator
  t[0x02] = {PropType::kU32, kPublishWill};     // message expiry interval
  t[0x03] = {PropType::kUtf8, kPublishWill};    // content type
  t[0x08] = {PropType::kUtf8, kPublishWill};    // response topic
  t[0x09] = {PropType::kBinary, kPublishWill};  // correlation data
  t[0x0B] = {PropType::kVarint, static_cast<uint16_t>(S(PropertyScope::kPublish) |
                                                      S(PropertyScope::kSubscribe))};
  t[0x11] = {PropType::kU32, static_cast<uint16_t>(kConnectConnack |
                                                   S(PropertyScope::kDisconnect))};
  t[0x12] = {PropType::kUtf8, S(PropertyScope::kConnack)};  // assigned client identifier
  t[0x13] = {PropType::kU16, S(PropertyScope::kConnack)};   // server keep alive
  t[0x15] = {PropType::kUtf8, kAuthScopes};                 // authentication method
  t[0x16] = {PropType::kBinary, kAuthScopes};               // authentication data
  t[0x17] = {PropType::kByte, S(PropertyScope::kConnect)};  // request problem information
  t[0x18] = {PropType::kU32, S(PropertyScope::kWill)};      // will delay interval
  t[0x19] = {PropType::kByte, S(PropertyScope::kConnect)};  // request response information
  t[0x1A] = {PropType::kUtf8, S(PropertyScope::kConnack)};  // response information
  t[0x1C] = {PropType::kUtf8, static_cast<uint16_t>(S(PropertyScope::kConnack) |
                                                    S(PropertyScope::kDisconnect))};
  t[0x1F] = {PropType::kUtf8, kReasonStringScopes};         // reason string
  t[0x21] = {PropType::kU16, kConnectConnack};              // receive maximum
  t[0x22] = {PropType::kU16, kConnectConnack};              // topic alias maximum
  t[0x23] = {PropType::kU16, S(PropertyScope::kPublish)};   // topic alias
  t[0x24] = {PropType::kByte, S(PropertyScope::kConnack)};  // maximum qos
  t[0x25] = {PropType::kByte, S(PropertyScope::kConnack)};  // retain available
  t[0x26] = {PropType::kPair, kAllScopes};                  // user property
  t[0x27] = {PropType::kU32, kConnectConnack};              // maximum packet size
  t[0x28] = {PropType::kByte, S(PropertyScope::kConnack)};  // wildcard subscription available
  t[0x29] = {PropType::kByte, S(PropertyScope::kConnack)};  // subscription ids available
  t[0x2A] = {PropType::kByte, S(PropertyScope::kConnack)};  // shared subscription available
  return t;
}

constexpr std::array<PropSpec, kMaxPropertyId + 1> kTable = MakeTable();

// --- sizing and writing -----------------------------------------------------------------

template <typename T>
size_t FixedSize(const std::optional<T>& v) {
  return v ? 1 + sizeof(T) : 0;
}
size_t StringSize(const std::optional<std::string>& v) { return v ? 3 + v->size() : 0; }

void PutByte(Writer* w, uint8_t id, const std::optional<uint8_t>& v) {
  if (v) { w->Byte(id); w->Byte(*v); }
}
void PutU16(Writer* w, uint8_t id, const std::optional<uint16_t>& v) {
  if (v) { w->Byte(id); w->U16(*v); }
}
void PutU32(Writer* w, uint8_t id, const std::optional<uint32_t>& v) {
  if (v) { w->Byte(id); w->U32(*v); }
}
void PutString(Writer* w, uint8_t id, const std::optional<std::string>& v) {
  if (v) { w->Byte(id); w->String(*v); }
}

// --- reading ------------------------------------------------------------------------------

bool ReadFlag(Reader* r, std::optional<uint8_t>* v, const char* what, CodecError* e) {
  uint8_t b = 0;
  if (!r->ReadByte(&b, e)) return false;
  if (b > 1) return Fail(e, reason::kProtocolError, what);
  *v = b;
  return true;
}
bool ReadU16Prop(Reader* r, std::optional<uint16_t>* v, CodecError* e) {
  uint16_t x = 0;
  if (!r->ReadU16(&x, e)) return false;
  *v = x;
  return true;
}
bool ReadU32Prop(Reader* r, std::optional<uint32_t>* v, CodecError* e) {
  uint32_t x = 0;
  if (!r->ReadU32(&x, e)) return false;
  *v = x;
  return true;
}
bool ReadUtf8Prop(Reader* r, std::optional<std::string>* v, CodecError* e) {
  return r->ReadUtf8(&v->emplace(), e);
}
bool ReadBinaryProp(Reader* r, std::optional<std::string>* v, CodecError* e) {
  return r->ReadBinary(&v->emplace(), e);
}

}  // namespace

size_t PropertiesSize(const Properties& p) {
  size_t n = FixedSize(p.payload_format_indicator) + FixedSize(p.message_expiry_interval) +
             StringSize(p.content_type) + StringSize(p.response_topic) +
             StringSize(p.correlation_data) + FixedSize(p.session_expiry_interval) +
             StringSize(p.assigned_client_identifier) + FixedSize(p.server_keep_alive) +
             StringSize(p.authentication_method) + StringSize(p.authentication_data) +
             FixedSize(p.request_problem_information) + FixedSize(p.will_delay_interval) +
             FixedSize(p.request_response_information) + StringSize(p.response_information) +
             StringSize(p.server_reference) + StringSize(p.reason_string) +
             FixedSize(p.receive_maximum) + FixedSize(p.topic_alias_maximum) +
             FixedSize(p.topic_alias) + FixedSize(p.maximum_qos) +
             FixedSize(p.retain_available) + FixedSize(p.maximum_packet_size) +
             FixedSize(p.wildcard_subscription_available) +
             FixedSize(p.subscription_identifiers_available) +
             FixedSize(p.shared_subscription_available);
  for (uint32_t id : p.subscription_identifiers) n += 1 + VarintSize(id);
  for (const auto& [k, v] : p.user_properties) n += 5 + k.size() + v.size();
  return n;
}

void WriteProperties(const Properties& p, size_t size, Writer* w) {
  SLUICE_CHECK(size <= kMaxRemainingLength);
  w->Varint(static_cast<uint32_t>(size));
  if (size == 0) return;
  PutByte(w, 0x01, p.payload_format_indicator);
  PutU32(w, 0x02, p.message_expiry_interval);
  PutString(w, 0x03, p.content_type);
  PutString(w, 0x08, p.response_topic);
  PutString(w, 0x09, p.correlation_data);
  for (uint32_t id : p.subscription_identifiers) {
    w->Byte(0x0B);
    w->Varint(id);
  }
  PutU32(w, 0x11, p.session_expiry_interval);
  PutString(w, 0x12, p.assigned_client_identifier);
  PutU16(w, 0x13, p.server_keep_alive);
  PutString(w, 0x15, p.authentication_method);
  PutString(w, 0x16, p.authentication_data);
  PutByte(w, 0x17, p.request_problem_information);
  PutU32(w, 0x18, p.will_delay_interval);
  PutByte(w, 0x19, p.request_response_information);
  PutString(w, 0x1A, p.response_information);
  PutString(w, 0x1C, p.server_reference);
  PutString(w, 0x1F, p.reason_string);
  PutU16(w, 0x21, p.receive_maximum);
  PutU16(w, 0x22, p.topic_alias_maximum);
  PutU16(w, 0x23, p.topic_alias);
  PutByte(w, 0x24, p.maximum_qos);
  PutByte(w, 0x25, p.retain_available);
  for (const auto& [k, v] : p.user_properties) {
    w->Byte(0x26);
    w->String(k);
    w->String(v);
  }
  PutU32(w, 0x27, p.maximum_packet_size);
  PutByte(w, 0x28, p.wildcard_subscription_available);
  PutByte(w, 0x29, p.subscription_identifiers_available);
  PutByte(w, 0x2A, p.shared_subscription_available);
}

size_t PublishViewPropertiesSize(const PublishView& v) {
  static const Properties kNone;
  const Properties& p = v.properties ? *v.properties : kNone;
  size_t n = FixedSize(p.payload_format_indicator) +
             (v.message_expiry_interval ? 5 : FixedSize(p.message_expiry_interval)) +
             StringSize(p.content_type) + StringSize(p.response_topic) +
             StringSize(p.correlation_data) + (v.topic_alias ? 3 : 0);
  if (v.subscription_identifiers)
    for (uint32_t id : *v.subscription_identifiers) n += 1 + VarintSize(id);
  for (const auto& [k, val] : p.user_properties) n += 5 + k.size() + val.size();
  return n;
}

void WritePublishViewProperties(const PublishView& v, size_t size, Writer* w) {
  static const Properties kNone;
  const Properties& p = v.properties ? *v.properties : kNone;
  SLUICE_CHECK(size <= kMaxRemainingLength);
  w->Varint(static_cast<uint32_t>(size));
  if (size == 0) return;
  PutByte(w, 0x01, p.payload_format_indicator);
  PutU32(w, 0x02, v.message_expiry_interval ? v.message_expiry_interval : p.message_expiry_interval);
  PutString(w, 0x03, p.content_type);
  PutString(w, 0x08, p.response_topic);
  PutString(w, 0x09, p.correlation_data);
  if (v.subscription_identifiers) {
    for (uint32_t id : *v.subscription_identifiers) {
      w->Byte(0x0B);
      w->Varint(id);
    }
  }
  PutU16(w, 0x23, v.topic_alias);
  for (const auto& [k, val] : p.user_properties) {
    w->Byte(0x26);
    w->String(k);
    w->String(val);
  }
}

bool ReadProperties(Reader* r, PropertyScope scope, Properties* out, CodecError* e) {
  uint32_t length = 0;
  if (!r->ReadVarint(&length, e)) return false;
  if (length > r->remaining()) {
    return Fail(e, reason::kMalformedPacket, "property length exceeds packet");
  }
  Reader pr(r->Take(length), r->limits());
  const uint32_t max_user_properties = r->limits().max_user_properties;
  uint32_t user_properties = 0;
  uint64_t seen = 0;
  const uint16_t scope_bit = S(scope);
  while (!pr.empty()) {
    uint32_t id = 0;
    if (!pr.ReadVarint(&id, e)) return false;
    if (id > kMaxPropertyId || kTable[id].type == PropType::kNone) {
      return Fail(e, reason::kMalformedPacket, "unknown property identifier");
    }
    if ((kTable[id].scopes & scope_bit) == 0) {
      return Fail(e, reason::kMalformedPacket, "property not allowed in this packet");
    }
    const uint64_t bit = uint64_t{1} << id;
    // User properties repeat anywhere; subscription identifiers repeat in PUBLISH only
    // (server to client: one per matching subscription).
    const bool repeatable = id == 0x26 || (id == 0x0B && scope == PropertyScope::kPublish);
    if ((seen & bit) != 0 && !repeatable) {
      return Fail(e, reason::kProtocolError, "duplicate property");
    }
    seen |= bit;
    bool ok = true;
    switch (id) {
      case 0x01:
        ok = ReadFlag(&pr, &out->payload_format_indicator, "payload format indicator not 0/1", e);
        break;
      case 0x02: ok = ReadU32Prop(&pr, &out->message_expiry_interval, e); break;
      case 0x03: ok = ReadUtf8Prop(&pr, &out->content_type, e); break;
      case 0x08:
        ok = ReadUtf8Prop(&pr, &out->response_topic, e);
        if (ok && !IsValidTopicName(*out->response_topic)) {
          return Fail(e, reason::kProtocolError, "response topic is not a valid topic name");
        }
        break;
      case 0x09: ok = ReadBinaryProp(&pr, &out->correlation_data, e); break;
      case 0x0B: {
        uint32_t v = 0;
        ok = pr.ReadVarint(&v, e);
        if (ok && v == 0) return Fail(e, reason::kProtocolError, "subscription identifier 0");
        if (ok) out->subscription_identifiers.push_back(v);
        break;
      }
      case 0x11: ok = ReadU32Prop(&pr, &out->session_expiry_interval, e); break;
      case 0x12: ok = ReadUtf8Prop(&pr, &out->assigned_client_identifier, e); break;
      case 0x13: ok = ReadU16Prop(&pr, &out->server_keep_alive, e); break;
      case 0x15: ok = ReadUtf8Prop(&pr, &out->authentication_method, e); break;
      case 0x16: ok = ReadBinaryProp(&pr, &out->authentication_data, e); break;
      case 0x17:
        ok = ReadFlag(&pr, &out->request_problem_information,
                      "request problem information not 0/1", e);
        break;
      case 0x18: ok = ReadU32Prop(&pr, &out->will_delay_interval, e); break;
      case 0x19:
        ok = ReadFlag(&pr, &out->request_response_information,
                      "request response information not 0/1", e);
        break;
      case 0x1A: ok = ReadUtf8Prop(&pr, &out->response_information, e); break;
      case 0x1C: ok = ReadUtf8Prop(&pr, &out->server_reference, e); break;
      case 0x1F: ok = ReadUtf8Prop(&pr, &out->reason_string, e); break;
      case 0x21:
        ok = ReadU16Prop(&pr, &out->receive_maximum, e);
        if (ok && *out->receive_maximum == 0) {
          return Fail(e, reason::kProtocolError, "receive maximum 0");
        }
        break;
      case 0x22: ok = ReadU16Prop(&pr, &out->topic_alias_maximum, e); break;
      case 0x23:
        ok = ReadU16Prop(&pr, &out->topic_alias, e);
        if (ok && *out->topic_alias == 0) {
          return Fail(e, reason::kTopicAliasInvalid, "topic alias 0");
        }
        break;
      case 0x24: ok = ReadFlag(&pr, &out->maximum_qos, "maximum qos not 0/1", e); break;
      case 0x25: ok = ReadFlag(&pr, &out->retain_available, "retain available not 0/1", e); break;
      case 0x26: {
        if (max_user_properties > 0 && ++user_properties > max_user_properties) {
          return Fail(e, reason::kQuotaExceeded, "more user properties than max_user_properties");
        }
        auto& pair = out->user_properties.emplace_back();
        ok = pr.ReadUtf8(&pair.first, e) && pr.ReadUtf8(&pair.second, e);
        break;
      }
      case 0x27:
        ok = ReadU32Prop(&pr, &out->maximum_packet_size, e);
        if (ok && *out->maximum_packet_size == 0) {
          return Fail(e, reason::kProtocolError, "maximum packet size 0");
        }
        break;
      case 0x28:
        ok = ReadFlag(&pr, &out->wildcard_subscription_available,
                      "wildcard subscription available not 0/1", e);
        break;
      case 0x29:
        ok = ReadFlag(&pr, &out->subscription_identifiers_available,
                      "subscription identifiers available not 0/1", e);
        break;
      case 0x2A:
        ok = ReadFlag(&pr, &out->shared_subscription_available,
                      "shared subscription available not 0/1", e);
        break;
      default:
        SLUICE_CHECK_MSG(false, "property table and decoder disagree");
    }
    if (!ok) return false;
  }
  // Authentication data without a method is a Protocol Error (3.1.2.11.10, 3.2.2.3.18,
  // 3.15.2.2.3).
  if (out->authentication_data && !out->authentication_method) {
    return Fail(e, reason::kProtocolError, "authentication data without method");
  }
  return true;
}

}  // namespace sluice::mqtt::internal
