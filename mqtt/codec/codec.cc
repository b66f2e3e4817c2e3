// Framing and decoding: the broker's front door, so every rule the spec states for the
// receiver is checked here, with the reason code the broker should send back. Where the spec
// leaves the reason code open the choice is stated inline and pinned by codec_test.cc.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/internal.h"

namespace sluice::mqtt {
namespace {

using internal::Fail;
using internal::PropertyScope;
using internal::Reader;

// A set of allowed reason codes, as a 256-bit map.
class ReasonSet {
 public:
  constexpr ReasonSet(std::initializer_list<uint8_t> codes) {
    for (uint8_t c : codes) bits_[c >> 6] |= uint64_t{1} << (c & 63);
  }
  constexpr bool contains(uint8_t c) const { return (bits_[c >> 6] >> (c & 63)) & 1; }

 private:
  std::array<uint64_t, 4> bits_{};
};

// Reason codes each packet may carry (MQTT 5 sections 3.2.2.2, 3.4.2.1 ... 3.15.2.1).
constexpr ReasonSet kConnackReasons{0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
                                    0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C,
                                    0x9D, 0x9F};
constexpr ReasonSet kPubackReasons{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr ReasonSet kPubrelReasons{0x00, 0x92};
constexpr ReasonSet kSubackReasons{0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F,
                                   0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr ReasonSet kSuback311Reasons{0x00, 0x01, 0x02, 0x80};
constexpr ReasonSet kUnsubackReasons{0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr ReasonSet kDisconnectReasons{
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr ReasonSet kAuthReasons{0x00, 0x18, 0x19};

bool CheckReason(const ReasonSet& set, uint8_t code, CodecError* e) {
  return set.contains(code) || Fail(e, reason::kMalformedPacket, "reason code not allowed");
}

bool ExpectEnd(const Reader& r, CodecError* e) {
  return r.empty() || Fail(e, reason::kMalformedPacket, "unexpected bytes after packet body");
}

// Packet identifiers on the wire are non-zero [MQTT-2.2.1-3]. Mosquitto treats a zero as a
// protocol error; so do we.
bool ReadPacketId(Reader* r, uint16_t* id, CodecError* e) {
  if (!r->ReadU16(id, e)) return false;
  return *id != 0 || Fail(e, reason::kProtocolError, "packet identifier 0");
}

bool DecodeConnect(Reader& r, Connect* c, CodecError* e) {
  std::string_view name;
  uint8_t level = 0;
  if (!r.ReadBinaryView(&name, e) || !r.ReadByte(&level, e)) return false;
  if (name == "MQTT" && level == 4) {
    c->version = Version::k311;
  } else if (name == "MQTT" && level == 5) {
    c->version = Version::k5;
  } else if (name == "MQIsdp" && level == 3) {
    c->version = Version::k31;
  } else {
    return Fail(e, reason::kUnsupportedProtocolVersion, "unsupported protocol name or level");
  }
  const bool v5 = c->version == Version::k5;
  uint8_t flags = 0;
  if (!r.ReadByte(&flags, e)) return false;
  if (flags & 0x01) return Fail(e, reason::kMalformedPacket, "reserved connect flag set");
  const bool will = flags & 0x04;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool has_password = flags & 0x40;
  const bool has_username = flags & 0x80;
  if (!will && (will_qos != 0 || will_retain)) {
    return Fail(e, reason::kMalformedPacket, "will qos/retain without will flag");
  }
  if (will_qos == 3) return Fail(e, reason::kMalformedPacket, "will qos 3");
  if (!v5 && has_password && !has_username) {
    return Fail(e, reason::kMalformedPacket, "password without user name");
  }
  c->clean_start = flags & 0x02;
  if (!r.ReadU16(&c->keep_alive_s, e)) return false;
  if (v5 && !internal::ReadProperties(&r, PropertyScope::kConnect, &c->properties, e)) {
    return false;
  }
  // Client identifier length and characters are the broker's policy (0x85), not ours.
  if (!r.ReadUtf8(&c->client_id, e)) return false;
  if (will) {
    Will& w = c->will.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5 && !internal::ReadProperties(&r, PropertyScope::kWill, &w.properties, e)) {
      return false;
    }
    if (!r.ReadUtf8(&w.topic, e)) return false;
    if (!internal::IsValidTopicName(w.topic)) {
      return Fail(e, reason::kTopicNameInvalid, "will topic is not a valid topic name");
    }
    if (!r.ReadBinary(&w.payload, e)) return false;
  }
  if (has_username && !r.ReadUtf8(&c->username.emplace(), e)) return false;
  if (has_password && !r.ReadBinary(&c->password.emplace(), e)) return false;
  return ExpectEnd(r, e);
}

bool DecodeConnack(Reader& r, bool v5, Connack* c, CodecError* e) {
  uint8_t flags = 0;
  if (!r.ReadByte(&flags, e) || !r.ReadByte(&c->reason_code, e)) return false;
  if (flags & 0xFE) return Fail(e, reason::kMalformedPacket, "reserved connack flags set");
  c->session_present = flags & 0x01;
  if (v5) {
    if (!CheckReason(kConnackReasons, c->reason_code, e)) return false;
    if (!internal::ReadProperties(&r, PropertyScope::kConnack, &c->properties, e)) return false;
  } else if (c->reason_code > 5) {  // 3.1.1 return codes 0..5; 6..255 are reserved
    return Fail(e, reason::kMalformedPacket, "reserved connack return code");
  }
  return ExpectEnd(r, e);
}

bool DecodePublish(Reader& r, uint8_t flags, bool v5, Publish* p, CodecError* e) {
  p->retain = flags & 0x01;
  p->qos = (flags >> 1) & 0x03;
  p->dup = flags & 0x08;
  if (p->qos == 3) return Fail(e, reason::kMalformedPacket, "publish qos 3");
  // [MQTT-3.3.1-2]: DUP must be 0 for QoS 0 (we enforce it for 3.1.1 too).
  if (p->dup && p->qos == 0) return Fail(e, reason::kMalformedPacket, "dup set with qos 0");
  std::string_view topic;
  if (!r.ReadBinaryView(&topic, e)) return false;
  if (!IsValidMqttUtf8(topic)) return Fail(e, reason::kMalformedPacket, "invalid UTF-8 topic");
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return Fail(e, reason::kTopicNameInvalid, "wildcard in topic name");
  }
  if (topic.empty() && !v5) return Fail(e, reason::kTopicNameInvalid, "empty topic name");
  p->topic.assign(topic.data(), topic.size());
  if (p->qos > 0 && !ReadPacketId(&r, &p->packet_id, e)) return false;
  if (v5) {
    if (!internal::ReadProperties(&r, PropertyScope::kPublish, &p->properties, e)) return false;
    // The alias value itself is checked by the broker against its topic alias maximum.
    if (topic.empty() && !p->properties.topic_alias) {
      return Fail(e, reason::kProtocolError, "empty topic name without topic alias");
    }
  }
  const std::string_view payload = r.Rest();
  p->payload.assign(payload.data(), payload.size());
  return true;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP. In 5.0 a remaining length of 2 means Success with no
// properties, and 3 means a reason code without properties.
bool DecodeAck(Reader& r, PacketType type, bool v5, Ack* a, CodecError* e) {
  a->type = type;
  if (!ReadPacketId(&r, &a->packet_id, e)) return false;
  if (!v5 || r.empty()) return ExpectEnd(r, e);
  if (!r.ReadByte(&a->reason_code, e)) return false;
  const bool rel_or_comp = type == PacketType::kPubrel || type == PacketType::kPubcomp;
  if (!CheckReason(rel_or_comp ? kPubrelReasons : kPubackReasons, a->reason_code, e)) {
    return false;
  }
  if (r.empty()) return true;
  static constexpr PropertyScope kScopes[] = {PropertyScope::kPuback, PropertyScope::kPubrec,
                                              PropertyScope::kPubrel, PropertyScope::kPubcomp};
  const auto scope = kScopes[static_cast<int>(type) - static_cast<int>(PacketType::kPuback)];
  if (!internal::ReadProperties(&r, scope, &a->properties, e)) return false;
  return ExpectEnd(r, e);
}

// A topic filter as the codec sees it: UTF-8 and non-empty. Wildcard placement is the topic
// module's rule (reason 0x8F there).
bool ReadFilter(Reader& r, std::string* filter, CodecError* e) {
  if (!r.ReadUtf8(filter, e)) return false;
  return !filter->empty() || Fail(e, reason::kMalformedPacket, "empty topic filter");
}

bool DecodeSubscribe(Reader& r, bool v5, Subscribe* s, CodecError* e) {
  if (!ReadPacketId(&r, &s->packet_id, e)) return false;
  if (v5 && !internal::ReadProperties(&r, PropertyScope::kSubscribe, &s->properties, e)) {
    return false;
  }
  while (!r.empty()) {
    SubscriptionRequest& sub = s->subscriptions.emplace_back();
    uint8_t options = 0;
    if (!ReadFilter(r, &sub.filter, e) || !r.ReadByte(&options, e)) return false;
    sub.qos = options & 0x03;
    if (sub.qos == 3) return Fail(e, reason::kMalformedPacket, "subscription qos 3");
    if (!v5) {
      if (options & 0xFC) return Fail(e, reason::kMalformedPacket, "reserved subscribe bits");
      continue;
    }
    if (options & 0xC0) return Fail(e, reason::kMalformedPacket, "reserved subscribe bits");
    sub.no_local = options & 0x04;
    sub.retain_as_published = options & 0x08;
    sub.retain_handling = (options >> 4) & 0x03;
    if (sub.retain_handling == 3) return Fail(e, reason::kMalformedPacket, "retain handling 3");
  }
  if (s->subscriptions.empty()) {
    return Fail(e, reason::kProtocolError, "subscribe without topic filters");
  }
  return true;
}

bool DecodeSuback(Reader& r, bool v5, Suback* s, CodecError* e) {
  if (!ReadPacketId(&r, &s->packet_id, e)) return false;
  if (v5 && !internal::ReadProperties(&r, PropertyScope::kSuback, &s->properties, e)) {
    return false;
  }
  if (r.empty()) return Fail(e, reason::kProtocolError, "suback without reason codes");
  const std::string_view codes = r.Rest();
  s->reason_codes.assign(codes.begin(), codes.end());
  for (uint8_t c : s->reason_codes) {
    if (!CheckReason(v5 ? kSubackReasons : kSuback311Reasons, c, e)) return false;
  }
  return true;
}

bool DecodeUnsubscribe(Reader& r, bool v5, Unsubscribe* u, CodecError* e) {
  if (!ReadPacketId(&r, &u->packet_id, e)) return false;
  if (v5 && !internal::ReadProperties(&r, PropertyScope::kUnsubscribe, &u->properties, e)) {
    return false;
  }
  while (!r.empty()) {
    if (!ReadFilter(r, &u->filters.emplace_back(), e)) return false;
  }
  if (u->filters.empty()) {
    return Fail(e, reason::kProtocolError, "unsubscribe without topic filters");
  }
  return true;
}

bool DecodeUnsuback(Reader& r, bool v5, Unsuback* u, CodecError* e) {
  if (!ReadPacketId(&r, &u->packet_id, e)) return false;
  if (!v5) return ExpectEnd(r, e);
  if (!internal::ReadProperties(&r, PropertyScope::kUnsuback, &u->properties, e)) return false;
  if (r.empty()) return Fail(e, reason::kProtocolError, "unsuback without reason codes");
  const std::string_view codes = r.Rest();
  u->reason_codes.assign(codes.begin(), codes.end());
  for (uint8_t c : u->reason_codes) {
    if (!CheckReason(kUnsubackReasons, c, e)) return false;
  }
  return true;
}

// DISCONNECT and AUTH (5.0): remaining length 0 is Success with no properties, 1 is a reason
// code without properties.
bool DecodeReasonAndProperties(Reader& r, PropertyScope scope, const ReasonSet& reasons,
                               uint8_t* reason_code, Properties* props, CodecError* e) {
  if (r.empty()) return true;
  if (!r.ReadByte(reason_code, e) || !CheckReason(reasons, *reason_code, e)) return false;
  if (r.empty()) return true;
  if (!internal::ReadProperties(&r, scope, props, e)) return false;
  return ExpectEnd(r, e);
}

// Fixed-header flags [MQTT-2.2.2-1]: PUBREL, SUBSCRIBE, UNSUBSCRIBE use 0b0010, PUBLISH its
// own (checked in DecodePublish), every other packet 0.
bool CheckFlags(PacketType type, uint8_t flags, CodecError* e) {
  if (type == PacketType::kPublish) return true;
  const bool two = type == PacketType::kPubrel || type == PacketType::kSubscribe ||
                   type == PacketType::kUnsubscribe;
  return flags == (two ? 0x02 : 0x00) ||
         Fail(e, reason::kMalformedPacket, "invalid fixed header flags");
}

}  // namespace

FrameStatus PeekFrame(std::string_view buffer, uint32_t max_packet_size, FrameHeader* header,
                      CodecError* error) {
  if (buffer.empty()) return FrameStatus::kNeedMore;
  header->first_byte = static_cast<uint8_t>(buffer[0]);
  if ((header->first_byte >> 4) == 0) {
    Fail(error, reason::kMalformedPacket, "reserved packet type 0");
    return FrameStatus::kError;
  }
  uint32_t remaining = 0;
  size_t length = 0;
  switch (internal::DecodeVarint(buffer.data() + 1, buffer.size() - 1, &remaining, &length)) {
    case internal::VarintStatus::kNeedMore:
      return FrameStatus::kNeedMore;
    case internal::VarintStatus::kMalformed:
      Fail(error, reason::kMalformedPacket, "bad remaining length");
      return FrameStatus::kError;
    case internal::VarintStatus::kOk:
      break;
  }
  header->remaining_length = remaining;
  header->header_size = static_cast<uint32_t>(1 + length);
  if (header->frame_size() > max_packet_size) {
    Fail(error, reason::kPacketTooLarge, "packet exceeds maximum packet size");
    return FrameStatus::kError;
  }
  return buffer.size() < header->frame_size() ? FrameStatus::kNeedMore : FrameStatus::kComplete;
}

bool Decode(std::string_view frame, Version version, Packet* out, CodecError* error) {
  static const DecodeLimits kNoLimits;
  return Decode(frame, version, out, error, kNoLimits);
}

bool Decode(std::string_view frame, Version version, Packet* out, CodecError* error,
            const DecodeLimits& limits) {
  if (frame.empty()) return Fail(error, reason::kMalformedPacket, "empty frame");
  uint32_t remaining = 0;
  size_t length = 0;
  if (internal::DecodeVarint(frame.data() + 1, frame.size() - 1, &remaining, &length) !=
          internal::VarintStatus::kOk ||
      1 + length + remaining != frame.size()) {
    return Fail(error, reason::kMalformedPacket, "frame does not match its remaining length");
  }
  const uint8_t first = static_cast<uint8_t>(frame[0]);
  const auto type = static_cast<PacketType>(first >> 4);
  const uint8_t flags = first & 0x0F;
  const bool v5 = version == Version::k5;
  if (!CheckFlags(type, flags, error)) return false;
  Reader r(frame.substr(1 + length), limits);
  switch (type) {
    case PacketType::kConnect:
      return DecodeConnect(r, &out->emplace<Connect>(), error);
    case PacketType::kConnack:
      return DecodeConnack(r, v5, &out->emplace<Connack>(), error);
    case PacketType::kPublish:
      return DecodePublish(r, flags, v5, &out->emplace<Publish>(), error);
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return DecodeAck(r, type, v5, &out->emplace<Ack>(), error);
    case PacketType::kSubscribe:
      return DecodeSubscribe(r, v5, &out->emplace<Subscribe>(), error);
    case PacketType::kSuback:
      return DecodeSuback(r, v5, &out->emplace<Suback>(), error);
    case PacketType::kUnsubscribe:
      return DecodeUnsubscribe(r, v5, &out->emplace<Unsubscribe>(), error);
    case PacketType::kUnsuback:
      return DecodeUnsuback(r, v5, &out->emplace<Unsuback>(), error);
    case PacketType::kPingreq:
      out->emplace<Pingreq>();
      return ExpectEnd(r, error);
    case PacketType::kPingresp:
      out->emplace<Pingresp>();
      return ExpectEnd(r, error);
    case PacketType::kDisconnect: {
      Disconnect& d = out->emplace<Disconnect>();
      if (!v5) return ExpectEnd(r, error);
      return DecodeReasonAndProperties(r, PropertyScope::kDisconnect, kDisconnectReasons,
                                       &d.reason_code, &d.properties, error);
    }
    case PacketType::kAuth: {
      if (!v5) return Fail(error, reason::kMalformedPacket, "AUTH is reserved before MQTT 5");
      Auth& a = out->emplace<Auth>();
      return DecodeReasonAndProperties(r, PropertyScope::kAuth, kAuthReasons, &a.reason_code,
                                       &a.properties, error);
    }
  }
  return Fail(error, reason::kMalformedPacket, "reserved packet type 0");
}

std::string EncodeStoredProperties(const Properties& properties) {
  static const Properties kNone;  // not a temporary of ~500 bytes per publish
  if (properties == kNone) return {};
  Publish p;
  p.topic = "p";
  p.properties = properties;
  std::string out;
  Encode(p, Version::k5, &out);
  return out;
}

bool DecodeStoredProperties(std::string_view stored, Properties* out, CodecError* error) {
  *out = Properties{};
  if (stored.empty()) return true;
  if (static_cast<uint8_t>(stored[0]) == 0x30) {
    Packet packet;
    if (!Decode(stored, Version::k5, &packet, error)) return false;
    auto* p = std::get_if<Publish>(&packet);
    if (!p) return Fail(error, reason::kMalformedPacket, "stored properties: not a PUBLISH");
    *out = std::move(p->properties);
    return true;
  }
  // A bare block: its length prefix is implied by the size.
  std::string framed;
  internal::Writer w(&framed);
  w.Varint(static_cast<uint32_t>(stored.size()));
  framed.append(stored);
  internal::Reader r(framed);
  if (!internal::ReadProperties(&r, internal::PropertyScope::kPublish, out, error)) return false;
  if (!r.empty()) return Fail(error, reason::kMalformedPacket, "stored properties: trailing bytes");
  return true;
}

}  // namespace sluice::mqtt
