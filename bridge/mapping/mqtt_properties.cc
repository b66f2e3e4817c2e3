#include "bridge/mapping/mqtt_properties.h"

#include "absl/status/status.h"

namespace sluice::bridge {
namespace {

// Property value types (MQTT 5 section 2.2.2.2).
enum class Type { kByte, kTwo, kFour, kVarint, kString, kBinary, kPair, kUnknown };

Type TypeOf(uint32_t id) {
  switch (id) {
    case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
      return Type::kByte;
    case 0x13: case 0x21: case 0x22: case 0x23:
      return Type::kTwo;
    case 0x02: case 0x11: case 0x18: case 0x27:
      return Type::kFour;
    case 0x0B:
      return Type::kVarint;
    case 0x03: case 0x08: case 0x12: case 0x15: case 0x1A: case 0x1C: case 0x1F:
      return Type::kString;
    case 0x09: case 0x16:
      return Type::kBinary;
    case 0x26:
      return Type::kPair;
    default:
      return Type::kUnknown;
  }
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  std::string_view rest() const { return in_; }
  bool Varint(uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
      if (in_.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Fixed(size_t n, uint32_t& v) {
    if (in_.size() < n) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(n);
    return true;
  }
  bool String(std::string& s) {
    uint32_t len;
    if (!Fixed(2, len) || in_.size() < len) return false;
    s.assign(in_.data(), len);
    in_.remove_prefix(len);
    return true;
  }

 private:
  std::string_view in_;
};

void PutTwo(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
void PutString(std::string& out, std::string_view s) {
  PutTwo(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
void PutVarint(std::string& out, uint32_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out.push_back(static_cast<char>(v ? b | 0x80 : b));
  } while (v);
}

constexpr uint8_t kPublishQos0 = 0x30;

// The property block inside the broker's minimal PUBLISH frame (see the header), or the block
// itself when it is bare.
absl::StatusOr<std::string_view> Unframe(std::string_view block) {
  if (block.empty() || static_cast<uint8_t>(block[0]) != kPublishQos0) return block;
  Reader r(block.substr(1));
  uint32_t remaining, len;
  std::string topic;
  if (!r.Varint(remaining) || r.rest().size() != remaining)
    return absl::DataLossError("malformed property frame: bad remaining length");
  if (!r.String(topic)) return absl::DataLossError("malformed property frame: bad topic");
  if (!r.Varint(len) || r.rest().size() < len)
    return absl::DataLossError("malformed property frame: bad property length");
  return r.rest().substr(0, len);  // what follows is the (empty) payload
}

}  // namespace

absl::StatusOr<ForwardedProperties> DecodeForwardedProperties(std::string_view stored) {
  absl::StatusOr<std::string_view> block = Unframe(stored);
  if (!block.ok()) return block.status();
  ForwardedProperties p;
  Reader r(*block);
  while (!r.done()) {
    uint32_t id;
    if (!r.Varint(id)) return absl::DataLossError("malformed property id");
    uint32_t num = 0;
    std::string s, s2;
    bool ok = false;
    switch (TypeOf(id)) {
      case Type::kByte: ok = r.Fixed(1, num); break;
      case Type::kTwo: ok = r.Fixed(2, num); break;
      case Type::kFour: ok = r.Fixed(4, num); break;
      case Type::kVarint: ok = r.Varint(num); break;
      case Type::kString:
      case Type::kBinary: ok = r.String(s); break;
      case Type::kPair: ok = r.String(s) && r.String(s2); break;
      case Type::kUnknown:
        return absl::DataLossError("unknown property id " + std::to_string(id));
    }
    if (!ok) return absl::DataLossError("truncated property " + std::to_string(id));
    switch (id) {
      case 0x01: p.payload_format_indicator = static_cast<uint8_t>(num); break;
      case 0x02: p.message_expiry_interval = num; break;
      case 0x03: p.content_type = std::move(s); break;
      case 0x08: p.response_topic = std::move(s); break;
      case 0x09: p.correlation_data = std::move(s); break;
      case 0x26: p.user_properties.emplace_back(std::move(s), std::move(s2)); break;
      default: break;  // not forwarded
    }
  }
  return p;
}

std::string EncodeForwardedProperties(const ForwardedProperties& p) {
  std::string out;
  if (p.payload_format_indicator) {
    out.push_back(0x01);
    out.push_back(static_cast<char>(*p.payload_format_indicator));
  }
  if (p.message_expiry_interval) {
    out.push_back(0x02);
    PutTwo(out, *p.message_expiry_interval >> 16);
    PutTwo(out, *p.message_expiry_interval & 0xFFFF);
  }
  if (p.content_type) {
    out.push_back(0x03);
    PutString(out, *p.content_type);
  }
  if (p.response_topic) {
    out.push_back(0x08);
    PutString(out, *p.response_topic);
  }
  if (p.correlation_data) {
    out.push_back(0x09);
    PutString(out, *p.correlation_data);
  }
  for (const auto& [k, v] : p.user_properties) {
    out.push_back(0x26);
    PutString(out, k);
    PutString(out, v);
  }
  return out;
}

std::string EncodeForwardedPropertiesAsBroker(const ForwardedProperties& p) {
  std::string block = EncodeForwardedProperties(p);
  std::string body;
  PutString(body, "p");
  PutVarint(body, static_cast<uint32_t>(block.size()));
  body += block;
  std::string out(1, static_cast<char>(kPublishQos0));
  PutVarint(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

}  // namespace sluice::bridge
