#include "tools/bench/relay_wire.h"

namespace sluice::bench::wire {

namespace {

uint16_t Be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

void PutBe16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

// Reads a variable byte integer at body[*at]; false if truncated or longer than 4 bytes.
bool ReadVarint(std::string_view body, size_t* at, uint32_t* value) {
  uint32_t v = 0;
  for (int shift = 0; shift < 28; shift += 7) {
    if (*at >= body.size()) return false;
    const uint8_t b = static_cast<uint8_t>(body[(*at)++]);
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *value = v;
      return true;
    }
  }
  return false;
}

// Skips the packet id and (5.0) properties of SUBSCRIBE/UNSUBSCRIBE; returns the id.
bool SkipIdAndProperties(std::string_view body, bool v5, size_t* at, uint16_t* packet_id) {
  if (body.size() < 2) return false;
  *packet_id = Be16(body.data());
  *at = 2;
  if (!v5) return true;
  uint32_t props = 0;
  if (!ReadVarint(body, at, &props) || body.size() - *at < props) return false;
  *at += props;
  return true;
}

// Counts topic filters from `at`, each a 2-byte length and the filter, plus `trailer` bytes
// (SUBSCRIBE: the options byte). Calls on_filter(options byte or 0) for each.
template <typename F>
bool ForEachFilter(std::string_view body, size_t at, size_t trailer, F on_filter) {
  if (at >= body.size()) return false;  // at least one filter
  while (at < body.size()) {
    if (body.size() - at < 2) return false;
    const size_t len = Be16(body.data() + at);
    at += 2;
    if (body.size() - at < len + trailer) return false;
    at += len;
    on_filter(trailer ? static_cast<uint8_t>(body[at]) : uint8_t{0});
    at += trailer;
  }
  return true;
}

}  // namespace

void AppendRemainingLength(uint32_t n, std::string* out) {
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n) b |= 0x80;
    out->push_back(static_cast<char>(b));
  } while (n);
}

FrameStatus PeekFrame(std::string_view in, Frame* frame) {
  if (in.size() < 2) return FrameStatus::kNeedMore;
  uint32_t length = 0;
  size_t at = 1;
  for (int shift = 0;; shift += 7) {
    if (shift == 28) return FrameStatus::kMalformed;  // more than 4 length bytes
    if (at >= in.size()) return FrameStatus::kNeedMore;
    const uint8_t b = static_cast<uint8_t>(in[at++]);
    length |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  frame->first_byte = static_cast<uint8_t>(in[0]);
  frame->header_bytes = static_cast<uint32_t>(at);
  frame->body_bytes = length;
  return in.size() - at >= length ? FrameStatus::kComplete : FrameStatus::kNeedMore;
}

bool ConnectLevel(std::string_view body, uint8_t* level) {
  if (body.size() < 2) return false;
  const size_t name = Be16(body.data());
  if (body.size() < 2 + name + 1) return false;
  *level = static_cast<uint8_t>(body[2 + name]);
  return true;
}

bool ParsePublish(uint8_t first_byte, std::string_view body, bool v5, PublishView* out) {
  out->qos = (first_byte >> 1) & 3;
  if (body.size() < 2) return false;
  const size_t topic = Be16(body.data());
  size_t at = 2;
  if (body.size() - at < topic) return false;
  out->topic = body.substr(at, topic);
  at += topic;
  out->packet_id = 0;
  if (out->qos > 0) {
    if (body.size() - at < 2) return false;
    out->packet_id = Be16(body.data() + at);
    at += 2;
  }
  out->properties = {};
  if (v5) {
    const size_t props_at = at;
    uint32_t props = 0;
    if (!ReadVarint(body, &at, &props) || body.size() - at < props) return false;
    at += props;
    out->properties = body.substr(props_at, at - props_at);
  }
  out->payload = body.substr(at);
  return true;
}

size_t AppendPublish(const PublishView& p, uint8_t qos, bool v5, uint16_t packet_id,
                     std::string* out) {
  static constexpr char kNoProperties[] = {0};
  const std::string_view props =
      !v5 ? std::string_view() : !p.properties.empty() ? p.properties : std::string_view(kNoProperties, 1);
  const size_t body = 2 + p.topic.size() + (qos > 0 ? 2 : 0) + props.size() + p.payload.size();
  out->push_back(static_cast<char>((kPublish << 4) | (qos << 1)));
  AppendRemainingLength(static_cast<uint32_t>(body), out);
  PutBe16(static_cast<uint16_t>(p.topic.size()), out);
  out->append(p.topic);
  size_t id_at = std::string::npos;
  if (qos > 0) {
    id_at = out->size();
    PutBe16(packet_id, out);
  }
  out->append(props);
  out->append(p.payload);
  return id_at;
}

bool AppendSuback(std::string_view body, bool v5, std::string* out, uint8_t* max_qos) {
  size_t at = 0;
  uint16_t id = 0;
  if (!SkipIdAndProperties(body, v5, &at, &id)) return false;
  std::string codes;
  const bool ok = ForEachFilter(body, at, 1, [&](uint8_t options) {
    uint8_t qos = options & 3;
    if (qos > 2) qos = 2;  // 3 is malformed; a relay grants what it can
    codes.push_back(static_cast<char>(qos));
    if (qos > *max_qos) *max_qos = qos;
  });
  if (!ok) return false;
  out->push_back(static_cast<char>(0x90));
  AppendRemainingLength(static_cast<uint32_t>(2 + (v5 ? 1 : 0) + codes.size()), out);
  PutBe16(id, out);
  if (v5) out->push_back(0);  // no properties
  out->append(codes);
  return true;
}

bool AppendUnsuback(std::string_view body, bool v5, std::string* out) {
  size_t at = 0;
  uint16_t id = 0;
  if (!SkipIdAndProperties(body, v5, &at, &id)) return false;
  size_t filters = 0;
  if (!ForEachFilter(body, at, 0, [&](uint8_t) { ++filters; })) return false;
  out->push_back(static_cast<char>(0xB0));
  AppendRemainingLength(static_cast<uint32_t>(2 + (v5 ? 1 + filters : 0)), out);
  PutBe16(id, out);
  if (v5) {
    out->push_back(0);                  // no properties
    out->append(filters, '\0');         // success for each
  }
  return true;
}

void AppendConnack(bool v5, std::string* out) {
  if (v5) {
    out->append({'\x20', '\x03', '\0', '\0', '\0'});
  } else {
    out->append({'\x20', '\x02', '\0', '\0'});
  }
}

void AppendAck(uint8_t first_byte, uint16_t packet_id, std::string* out) {
  out->push_back(static_cast<char>(first_byte));
  out->push_back(2);
  PutBe16(packet_id, out);
}

void AppendPingresp(std::string* out) { out->append({'\xD0', '\0'}); }

}  // namespace sluice::bench::wire
