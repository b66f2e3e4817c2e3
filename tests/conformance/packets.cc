// Encoding follows the OASIS MQTT 3.1.1 and 5.0 specifications section by section; see the
// section numbers in the comments. No code here is shared with the broker on purpose.
#include "tests/conformance/packets.h"

#include <cstdio>
#include <cstdlib>

namespace sluice::conformance {
namespace {

enum class Kind { kByte, kU16, kU32, kVarInt, kString, kBinary, kPair, kUnknown };

// Spec 5.0 section 2.2.2.2, table of property identifiers and their data types.
Kind KindOf(uint8_t id) {
  switch (id) {
    case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
      return Kind::kByte;
    case 0x13: case 0x21: case 0x22: case 0x23:
      return Kind::kU16;
    case 0x02: case 0x11: case 0x18: case 0x27:
      return Kind::kU32;
    case 0x0B:
      return Kind::kVarInt;
    case 0x03: case 0x08: case 0x12: case 0x15: case 0x1A: case 0x1C: case 0x1F:
      return Kind::kString;
    case 0x09: case 0x16:
      return Kind::kBinary;
    case 0x26:
      return Kind::kPair;
    default:
      return Kind::kUnknown;
  }
}

// A bounds-checked reader over one frame; the first failure sticks in `error`.
struct Reader {
  std::string_view in;
  size_t pos = 0;
  std::string error;

  bool Need(size_t n, const char* what) {
    if (error.empty() && in.size() - pos < n) error = std::string("truncated ") + what;
    return error.empty();
  }
  uint8_t Byte(const char* what) { return Need(1, what) ? uint8_t(in[pos++]) : 0; }
  uint16_t U16(const char* what) {
    if (!Need(2, what)) return 0;
    uint16_t v = uint16_t(uint8_t(in[pos]) << 8 | uint8_t(in[pos + 1]));
    pos += 2;
    return v;
  }
  uint32_t U32(const char* what) {
    uint32_t hi = U16(what);
    return hi << 16 | U16(what);
  }
  uint32_t VarInt(const char* what) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t b = Byte(what);
      value |= uint32_t(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) return value;
    }
    if (error.empty()) error = std::string("varint longer than 4 bytes in ") + what;
    return 0;
  }
  std::string Bin(const char* what) {
    uint16_t n = U16(what);
    if (!Need(n, what)) return {};
    std::string s(in.substr(pos, n));
    pos += n;
    return s;
  }
  size_t Left() const { return in.size() - pos; }
};

}  // namespace

std::string Hex(std::string_view bytes) {
  std::string out;
  char buf[4];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, out.empty() ? "%02X" : " %02X", c);
    out += buf;
  }
  return out;
}

Bytes FromHex(std::string_view hex) {
  Bytes out;
  int nibbles = 0, acc = 0;
  for (char c : hex) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    int v = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (v < 0) std::abort();
    acc = acc << 4 | v;
    if (++nibbles % 2 == 0) out += char(acc), acc = 0;
  }
  if (nibbles % 2) std::abort();
  return out;
}

// ---- Properties -------------------------------------------------------------------------

Properties& Properties::Add(uint8_t id, uint32_t num) {
  items_.push_back({id, num, {}, {}});
  return *this;
}

Properties& Properties::Add(uint8_t id, std::string_view str) {
  items_.push_back({id, 0, std::string(str), {}});
  return *this;
}

Properties& Properties::AddUser(std::string_view key, std::string_view value) {
  items_.push_back({kUserProperty, 0, std::string(key), std::string(value)});
  return *this;
}

Bytes Properties::Encode() const {
  Bytes body;
  for (const Property& p : items_) {
    body += char(p.id);
    switch (KindOf(p.id)) {
      case Kind::kByte: body += char(p.num); break;
      case Kind::kU16: body += U16(uint16_t(p.num)); break;
      case Kind::kU32: body += U16(uint16_t(p.num >> 16)) + U16(uint16_t(p.num)); break;
      case Kind::kVarInt: body += VarInt(p.num); break;
      case Kind::kString: case Kind::kBinary: body += conformance::Str(p.str); break;
      case Kind::kPair: body += conformance::Str(p.str) + conformance::Str(p.str2); break;
      case Kind::kUnknown: std::abort();
    }
  }
  return VarInt(uint32_t(body.size())) + body;
}

std::string Properties::Decode(std::string_view in, size_t* pos) {
  Reader r{in, *pos};
  uint32_t len = r.VarInt("property length");
  if (!r.Need(len, "properties")) return r.error;
  size_t end = r.pos + len;
  while (r.error.empty() && r.pos < end) {
    Property p;
    p.id = r.Byte("property id");
    switch (KindOf(p.id)) {
      case Kind::kByte: p.num = r.Byte("property"); break;
      case Kind::kU16: p.num = r.U16("property"); break;
      case Kind::kU32: p.num = r.U32("property"); break;
      case Kind::kVarInt: p.num = r.VarInt("property"); break;
      case Kind::kString: case Kind::kBinary: p.str = r.Bin("property"); break;
      case Kind::kPair: p.str = r.Bin("user property"); p.str2 = r.Bin("user property"); break;
      case Kind::kUnknown: return "unknown property id " + Hex(std::string(1, char(p.id)));
    }
    items_.push_back(std::move(p));
  }
  if (r.error.empty() && r.pos != end) return "property overran its length";
  *pos = r.pos;
  return r.error;
}

bool Properties::Has(uint8_t id) const { return Num(id).has_value(); }

std::optional<uint32_t> Properties::Num(uint8_t id) const {
  for (const Property& p : items_) if (p.id == id) return p.num;
  return std::nullopt;
}

std::optional<std::string> Properties::Str(uint8_t id) const {
  for (const Property& p : items_) if (p.id == id) return p.str;
  return std::nullopt;
}

std::vector<uint32_t> Properties::AllNums(uint8_t id) const {
  std::vector<uint32_t> out;
  for (const Property& p : items_) if (p.id == id) out.push_back(p.num);
  return out;
}

std::vector<std::pair<std::string, std::string>> Properties::UserProperties() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Property& p : items_) if (p.id == kUserProperty) out.emplace_back(p.str, p.str2);
  return out;
}

// ---- Encoders ---------------------------------------------------------------------------

Bytes U16(uint16_t v) { return Bytes{char(v >> 8), char(v & 0xFF)}; }

Bytes VarInt(uint32_t v) {  // spec 1.5.5 / 2.2.3
  Bytes out;
  do {
    uint8_t b = v % 128;
    v /= 128;
    out += char(v ? b | 0x80 : b);
  } while (v);
  return out;
}

Bytes Str(std::string_view s) { return U16(uint16_t(s.size())) + Bytes(s); }

Bytes Frame(uint8_t first_byte, std::string_view body) {
  return Bytes(1, char(first_byte)) + VarInt(uint32_t(body.size())) + Bytes(body);
}

Bytes Connect(const ConnectSpec& s) {  // spec 3.1
  bool v5 = s.version == kV5;
  uint8_t flags = s.clean ? 0x02 : 0;
  if (s.will) flags |= 0x04 | s.will->qos << 3 | (s.will->retain ? 0x20 : 0);
  if (s.password) flags |= 0x40;
  if (s.username) flags |= 0x80;
  Bytes body = Str("MQTT") + char(s.version) + char(flags) + U16(s.keep_alive_s);
  if (v5) body += s.props.Encode();
  body += Str(s.client_id);
  if (s.will) {
    if (v5) body += s.will->props.Encode();
    body += Str(s.will->topic) + Str(s.will->payload);
  }
  if (s.username) body += Str(*s.username);
  if (s.password) body += Str(*s.password);
  return Frame(0x10, body);
}

Bytes Publish(Version v, const PublishSpec& s) {  // spec 3.3
  uint8_t first = 0x30 | (s.dup ? 0x08 : 0) | s.qos << 1 | (s.retain ? 1 : 0);
  Bytes body = Str(s.topic);
  if (s.qos > 0) body += U16(s.id);
  if (v == kV5) body += s.props.Encode();
  return Frame(first, body + s.payload);
}

Bytes Subscribe(Version v, uint16_t id, const std::vector<SubSpec>& subs,
                const Properties& props) {  // spec 3.8
  Bytes body = U16(id);
  if (v == kV5) body += props.Encode();
  for (const SubSpec& s : subs) {
    uint8_t options = s.qos;
    if (v == kV5) options |= (s.no_local ? 0x04 : 0) | (s.rap ? 0x08 : 0) | s.rh << 4;
    body += Str(s.filter) + char(options);
  }
  return Frame(0x82, body);
}

Bytes Unsubscribe(Version v, uint16_t id, const std::vector<std::string>& filters,
                  const Properties& props) {  // spec 3.10
  Bytes body = U16(id);
  if (v == kV5) body += props.Encode();
  for (const std::string& f : filters) body += Str(f);
  return Frame(0xA2, body);
}

Bytes Ack(Version v, PacketType type, uint16_t id, uint8_t reason) {  // spec 3.4-3.7
  uint8_t first = uint8_t(type << 4 | (type == kPubrel ? 0x02 : 0));
  Bytes body = U16(id);
  if (v == kV5 && reason != 0) body += char(reason);
  return Frame(first, body);
}

Bytes Disconnect(Version v, uint8_t reason, const Properties& props) {  // spec 3.14
  if (v == kV311 || (reason == 0 && props.empty())) return FromHex("E0 00");
  Bytes body(1, char(reason));
  if (!props.empty()) body += props.Encode();
  return Frame(0xE0, body);
}

Bytes Pingreq() { return FromHex("C0 00"); }

// ---- Decoder ----------------------------------------------------------------------------

Packet Decode(Version v, std::string_view frame) {
  Packet p;
  Reader r{frame};
  uint8_t first = r.Byte("fixed header");
  p.type = first >> 4;
  p.flags = first & 0x0F;
  uint32_t len = r.VarInt("remaining length");
  if (r.error.empty() && r.Left() != len) r.error = "remaining length does not match frame";
  bool v5 = v == kV5;
  auto props = [&] {
    if (r.error.empty()) r.error = p.props.Decode(frame, &r.pos);
  };
  switch (r.error.empty() ? p.type : 0) {
    case kConnack:
      p.session_present = r.Byte("connack flags") & 1;
      p.reason = r.Byte("connack code");
      if (v5) props();
      break;
    case kPublish:
      p.qos = (p.flags >> 1) & 3;
      p.retain = p.flags & 1;
      p.dup = p.flags & 8;
      p.topic = r.Bin("topic");
      if (p.qos > 0) p.id = r.U16("packet id");
      if (v5) props();
      if (r.error.empty()) p.payload = Bytes(frame.substr(r.pos)), r.pos = frame.size();
      break;
    case kPuback: case kPubrec: case kPubrel: case kPubcomp:
      p.id = r.U16("packet id");
      if (v5 && r.Left() > 0) p.reason = r.Byte("reason");
      if (v5 && r.Left() > 0) props();
      break;
    case kSuback: case kUnsuback:
      p.id = r.U16("packet id");
      if (v5) props();
      while (r.error.empty() && r.Left() > 0) p.reasons.push_back(r.Byte("reason"));
      break;
    case kDisconnect: case kAuth:
      if (v5 && r.Left() > 0) p.reason = r.Byte("reason");
      if (v5 && r.Left() > 0) props();
      break;
    case kPingresp:
      break;
    default:
      if (r.error.empty()) r.error = "unexpected packet type " + std::to_string(p.type);
  }
  if (r.error.empty() && r.Left() != 0) r.error = "trailing bytes";
  p.error = r.error;
  return p;
}

}  // namespace sluice::conformance
