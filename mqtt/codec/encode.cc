// Encoding. Each packet kind has a Layout pass (body size, property block sizes) shared by
// EncodedSize and Encode, so the two cannot disagree; Encode reserves the exact size once
// and CHECKs that it wrote exactly that many bytes.
#include <cstdint>
#include <string>
#include <variant>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/internal.h"

namespace sluice::mqtt {
namespace {

using internal::PropertiesSize;
using internal::VarintSize;
using internal::Writer;

struct Layout {
  size_t body = 0;        // remaining length
  size_t props = 0;       // property block contents (5.0)
  size_t will_props = 0;  // will property block contents (5.0 CONNECT)
};

size_t PropertyBlockSize(size_t contents) {
  return VarintSize(static_cast<uint32_t>(contents)) + contents;
}
size_t StringSize(const std::string& s) { return 2 + s.size(); }

// 3.1.1 has CONNACK return codes 0..5. Values 1..5 are not MQTT 5 CONNACK reason codes, so
// they pass through unchanged (what the decoder read from a 3.1.1 peer); 5.0 codes map to
// the nearest 3.1.1 return code.
uint8_t ConnackReturnCode311(uint8_t reason_code) {
  if (reason_code <= 5) return reason_code;
  switch (reason_code) {
    case reason::kUnsupportedProtocolVersion: return 1;
    case reason::kClientIdentifierNotValid: return 2;
    case reason::kServerUnavailable:
    case reason::kServerBusy: return 3;
    case reason::kBadUserNameOrPassword: return 4;
    default: return 5;  // not authorized, and everything else
  }
}

// --- CONNECT ------------------------------------------------------------------------------
// CONNECT carries its own protocol level: Connect::version decides, not the argument.

Layout Plan(const Connect& c) {
  const bool v5 = c.version == Version::k5;
  Layout l;
  l.body = (c.version == Version::k31 ? 8 : 6) + 1 + 1 + 2 + StringSize(c.client_id);
  if (v5) {
    l.props = PropertiesSize(c.properties);
    l.body += PropertyBlockSize(l.props);
  }
  if (c.will) {
    if (v5) {
      l.will_props = PropertiesSize(c.will->properties);
      l.body += PropertyBlockSize(l.will_props);
    }
    l.body += StringSize(c.will->topic) + StringSize(c.will->payload);
  }
  if (c.username) l.body += StringSize(*c.username);
  if (c.password) l.body += StringSize(*c.password);
  return l;
}

uint8_t FirstByte(const Connect&) { return 0x10; }

void WriteBody(const Connect& c, const Layout& l, Writer* w) {
  const bool v5 = c.version == Version::k5;
  if (c.version == Version::k31) {
    w->String("MQIsdp");
  } else {
    w->String("MQTT");
  }
  w->Byte(static_cast<uint8_t>(c.version));
  uint8_t flags = 0;
  if (c.clean_start) flags |= 0x02;
  if (c.will) flags |= 0x04 | static_cast<uint8_t>((c.will->qos & 3) << 3) | (c.will->retain ? 0x20 : 0);
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  w->Byte(flags);
  w->U16(c.keep_alive_s);
  if (v5) internal::WriteProperties(c.properties, l.props, w);
  w->String(c.client_id);
  if (c.will) {
    if (v5) internal::WriteProperties(c.will->properties, l.will_props, w);
    w->String(c.will->topic);
    w->String(c.will->payload);
  }
  if (c.username) w->String(*c.username);
  if (c.password) w->String(*c.password);
}

// --- CONNACK ------------------------------------------------------------------------------

Layout Plan(const Connack& c, bool v5) {
  Layout l;
  l.body = 2;
  if (v5) {
    l.props = PropertiesSize(c.properties);
    l.body += PropertyBlockSize(l.props);
  }
  return l;
}
uint8_t FirstByte(const Connack&) { return 0x20; }
void WriteBody(const Connack& c, bool v5, const Layout& l, Writer* w) {
  w->Byte(c.session_present ? 1 : 0);
  w->Byte(v5 ? c.reason_code : ConnackReturnCode311(c.reason_code));
  if (v5) internal::WriteProperties(c.properties, l.props, w);
}

// --- PUBLISH ------------------------------------------------------------------------------

Layout Plan(const Publish& p, bool v5) {
  Layout l;
  l.body = StringSize(p.topic) + (p.qos > 0 ? 2 : 0) + p.payload.size();
  if (v5) {
    l.props = PropertiesSize(p.properties);
    l.body += PropertyBlockSize(l.props);
  }
  return l;
}
uint8_t FirstByte(const Publish& p) {
  return static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 3) << 1) |
                              (p.retain ? 0x01 : 0));
}
void WriteBody(const Publish& p, bool v5, const Layout& l, Writer* w) {
  w->String(p.topic);
  if (p.qos > 0) w->U16(p.packet_id);
  if (v5) internal::WriteProperties(p.properties, l.props, w);
  w->Raw(p.payload);
}

// --- PUBACK / PUBREC / PUBREL / PUBCOMP -----------------------------------------------------
// 5.0 shortest form: packet id only for Success without properties, then reason code only.

Layout Plan(const Ack& a, bool v5) {
  Layout l;
  l.body = 2;
  if (v5) {
    l.props = PropertiesSize(a.properties);
    if (l.props != 0) {
      l.body += 1 + PropertyBlockSize(l.props);
    } else if (a.reason_code != reason::kSuccess) {
      l.body += 1;
    }
  }
  return l;
}
uint8_t FirstByte(const Ack& a) {
  SLUICE_CHECK_MSG(a.type >= PacketType::kPuback && a.type <= PacketType::kPubcomp,
                   "Ack::type must be PUBACK, PUBREC, PUBREL or PUBCOMP");
  return static_cast<uint8_t>(static_cast<uint8_t>(a.type) << 4 |
                              (a.type == PacketType::kPubrel ? 0x02 : 0));
}
void WriteBody(const Ack& a, bool v5, const Layout& l, Writer* w) {
  w->U16(a.packet_id);
  if (l.body >= 3) w->Byte(a.reason_code);
  if (l.body >= 4) internal::WriteProperties(a.properties, l.props, w);
}

// --- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK --------------------------------------------

Layout Plan(const Subscribe& s, bool v5) {
  Layout l;
  l.body = 2;
  if (v5) {
    l.props = PropertiesSize(s.properties);
    l.body += PropertyBlockSize(l.props);
  }
  for (const auto& sub : s.subscriptions) l.body += StringSize(sub.filter) + 1;
  return l;
}
uint8_t FirstByte(const Subscribe&) { return 0x82; }
void WriteBody(const Subscribe& s, bool v5, const Layout& l, Writer* w) {
  w->U16(s.packet_id);
  if (v5) internal::WriteProperties(s.properties, l.props, w);
  for (const auto& sub : s.subscriptions) {
    w->String(sub.filter);
    uint8_t options = sub.qos & 3;
    if (v5) {
      options |= static_cast<uint8_t>((sub.no_local ? 0x04 : 0) |
                                      (sub.retain_as_published ? 0x08 : 0) |
                                      ((sub.retain_handling & 3) << 4));
    }
    w->Byte(options);
  }
}

Layout Plan(const Suback& s, bool v5) {
  Layout l;
  l.body = 2 + s.reason_codes.size();
  if (v5) {
    l.props = PropertiesSize(s.properties);
    l.body += PropertyBlockSize(l.props);
  }
  return l;
}
uint8_t FirstByte(const Suback&) { return 0x90; }
void WriteBody(const Suback& s, bool v5, const Layout& l, Writer* w) {
  w->U16(s.packet_id);
  if (v5) internal::WriteProperties(s.properties, l.props, w);
  for (uint8_t c : s.reason_codes) w->Byte(c);
}

Layout Plan(const Unsubscribe& u, bool v5) {
  Layout l;
  l.body = 2;
  if (v5) {
    l.props = PropertiesSize(u.properties);
    l.body += PropertyBlockSize(l.props);
  }
  for (const auto& f : u.filters) l.body += StringSize(f);
  return l;
}
uint8_t FirstByte(const Unsubscribe&) { return 0xA2; }
void WriteBody(const Unsubscribe& u, bool v5, const Layout& l, Writer* w) {
  w->U16(u.packet_id);
  if (v5) internal::WriteProperties(u.properties, l.props, w);
  for (const auto& f : u.filters) w->String(f);
}

// 3.1.1 UNSUBACK is the packet id alone.
Layout Plan(const Unsuback& u, bool v5) {
  Layout l;
  l.body = 2;
  if (v5) {
    l.props = PropertiesSize(u.properties);
    l.body += PropertyBlockSize(l.props) + u.reason_codes.size();
  }
  return l;
}
uint8_t FirstByte(const Unsuback&) { return 0xB0; }
void WriteBody(const Unsuback& u, bool v5, const Layout& l, Writer* w) {
  w->U16(u.packet_id);
  if (!v5) return;
  internal::WriteProperties(u.properties, l.props, w);
  for (uint8_t c : u.reason_codes) w->Byte(c);
}

// --- PINGREQ / PINGRESP / DISCONNECT / AUTH -------------------------------------------------

Layout Plan(const Pingreq&, bool) { return {}; }
uint8_t FirstByte(const Pingreq&) { return 0xC0; }
void WriteBody(const Pingreq&, bool, const Layout&, Writer*) {}

Layout Plan(const Pingresp&, bool) { return {}; }
uint8_t FirstByte(const Pingresp&) { return 0xD0; }
void WriteBody(const Pingresp&, bool, const Layout&, Writer*) {}

// 5.0 DISCONNECT shortest form: empty for Normal disconnection without properties, then the
// reason code alone.
Layout Plan(const Disconnect& d, bool v5) {
  Layout l;
  if (!v5) return l;
  l.props = PropertiesSize(d.properties);
  if (l.props != 0) {
    l.body = 1 + PropertyBlockSize(l.props);
  } else if (d.reason_code != reason::kSuccess) {
    l.body = 1;
  }
  return l;
}
uint8_t FirstByte(const Disconnect&) { return 0xE0; }
void WriteBody(const Disconnect& d, bool v5, const Layout& l, Writer* w) {
  if (l.body >= 1) w->Byte(d.reason_code);
  if (l.body >= 2) internal::WriteProperties(d.properties, l.props, w);
}

// AUTH exists only in 5.0. Empty for Success without properties [MQTT-3.15.2-1]; otherwise
// the full form (reason code and property length), which every client accepts.
Layout Plan(const Auth& a, bool v5) {
  SLUICE_CHECK_MSG(v5, "AUTH cannot be encoded for MQTT 3.x");
  Layout l;
  l.props = PropertiesSize(a.properties);
  if (l.props != 0 || a.reason_code != reason::kSuccess) l.body = 1 + PropertyBlockSize(l.props);
  return l;
}
uint8_t FirstByte(const Auth&) { return 0xF0; }
void WriteBody(const Auth& a, bool, const Layout& l, Writer* w) {
  if (l.body == 0) return;
  w->Byte(a.reason_code);
  internal::WriteProperties(a.properties, l.props, w);
}

// Uniform signatures over CONNECT's self-described version.
Layout Plan(const Connect& c, bool) { return Plan(c); }
void WriteBody(const Connect& c, bool, const Layout& l, Writer* w) { WriteBody(c, l, w); }

size_t FrameSize(const Layout& l) {
  SLUICE_CHECK_MSG(l.body <= kMaxRemainingLength, "packet exceeds MQTT's maximum size");
  return 1 + VarintSize(static_cast<uint32_t>(l.body)) + l.body;
}

}  // namespace

void Encode(const Packet& packet, Version version, std::string* out) {
  const bool v5 = version == Version::k5;
  std::visit(
      [&](const auto& p) {
        const Layout l = Plan(p, v5);
        const size_t size = FrameSize(l);
        const size_t start = out->size();
        out->reserve(start + size);
        Writer w(out);
        w.Byte(FirstByte(p));
        w.Varint(static_cast<uint32_t>(l.body));
        WriteBody(p, v5, l, &w);
        SLUICE_CHECK_MSG(out->size() - start == size, "EncodedSize and Encode disagree");
      },
      packet);
}

namespace {
size_t PublishViewBody(const PublishView& p, bool v5, size_t* props) {
  size_t body = 2 + p.topic.size() + (p.qos > 0 ? 2 : 0) + p.payload.size();
  if (v5) {
    *props = internal::PublishViewPropertiesSize(p);
    body += PropertyBlockSize(*props);
  }
  return body;
}
}  // namespace

size_t EncodedPublishSize(const PublishView& p, Version version) {
  size_t props = 0;
  Layout l;
  l.body = PublishViewBody(p, version == Version::k5, &props);
  return FrameSize(l);
}

void EncodePublish(const PublishView& p, Version version, std::string* out) {
  const bool v5 = version == Version::k5;
  size_t props = 0;
  Layout l;
  l.body = PublishViewBody(p, v5, &props);
  const size_t size = FrameSize(l);
  const size_t start = out->size();
  out->reserve(start + size);
  Writer w(out);
  w.Byte(static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | ((p.qos & 3) << 1) | (p.retain ? 1 : 0)));
  w.Varint(static_cast<uint32_t>(l.body));
  w.String(p.topic);
  if (p.qos > 0) w.U16(p.packet_id);
  if (v5) internal::WritePublishViewProperties(p, props, &w);
  w.Raw(p.payload);
  SLUICE_CHECK_MSG(out->size() - start == size, "EncodedPublishSize and EncodePublish disagree");
}

size_t EncodedSize(const Packet& packet, Version version) {
  const bool v5 = version == Version::k5;
  return std::visit([&](const auto& p) { return FrameSize(Plan(p, v5)); }, packet);
}

}  // namespace sluice::mqtt
