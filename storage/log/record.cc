#include "storage/log/record.h"

#include "absl/status/status.h"

namespace sluice::storage {

void PutFixed64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}

uint64_t GetFixed64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void PutFixed16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

uint16_t GetFixed16(std::string_view in) {
  return static_cast<uint16_t>((static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]));
}

void PutVarint32(std::string& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

namespace {

bool GetVarint32(std::string_view& in, uint32_t& v) {
  v = 0;
  for (int shift = 0; shift <= 28 && !in.empty(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

void PutLengthPrefixed(std::string& out, std::string_view s) {
  PutVarint32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

absl::Status Malformed(const char* what) {
  return absl::DataLossError(std::string("commit log: malformed ") + what);
}

}  // namespace

bool GetLengthPrefixed(std::string_view& in, std::string_view& out) {
  uint32_t n = 0;
  if (!GetVarint32(in, n) || in.size() < n) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

void EncodeRecordTo(std::string& out, const Record& r) {
  out.push_back(static_cast<char>(kRecordVersion));
  out.push_back(static_cast<char>((r.qos & 0x3) | (r.retain ? 0x4 : 0)));
  PutFixed64(out, static_cast<uint64_t>(r.timestamp_ms));
  PutLengthPrefixed(out, r.topic);
  PutLengthPrefixed(out, r.publisher);
  PutLengthPrefixed(out, r.properties);
  out.append(r.payload);
}

std::string EncodeRecord(const Record& r) {
  std::string out;
  out.reserve(16 + r.topic.size() + r.publisher.size() + r.properties.size() + r.payload.size());
  EncodeRecordTo(out, r);
  return out;
}

absl::StatusOr<int64_t> DecodeRecordTimestamp(std::string_view value) {
  if (value.size() < kRecordTimestampPos + 8) return Malformed("record");
  return static_cast<int64_t>(GetFixed64(value.substr(kRecordTimestampPos)));
}

absl::StatusOr<RecordView> DecodeRecordView(std::string_view in) {
  if (in.size() < kRecordTimestampPos + 8 || static_cast<uint8_t>(in[0]) != kRecordVersion) {
    return Malformed("record");
  }
  RecordView v;
  v.retain = RecordRetainFlag(in);
  in.remove_prefix(kRecordTimestampPos + 8);
  std::string_view properties;
  if (!GetLengthPrefixed(in, v.topic) || !GetLengthPrefixed(in, v.publisher) ||
      !GetLengthPrefixed(in, properties)) {
    return Malformed("record");
  }
  v.payload = in;
  return v;
}

absl::StatusOr<Record> DecodeRecord(std::string_view in) {
  if (in.size() < kRecordTimestampPos + 8 || static_cast<uint8_t>(in[0]) != kRecordVersion) {
    return Malformed("record");
  }
  Record r;
  const uint8_t flags = static_cast<uint8_t>(in[1]);
  r.qos = flags & 0x3;
  r.retain = (flags & 0x4) != 0;
  r.timestamp_ms = static_cast<int64_t>(GetFixed64(in.substr(kRecordTimestampPos)));
  in.remove_prefix(kRecordTimestampPos + 8);
  std::string_view topic, publisher, properties;
  if (!GetLengthPrefixed(in, topic) || !GetLengthPrefixed(in, publisher) ||
      !GetLengthPrefixed(in, properties)) {
    return Malformed("record");
  }
  r.topic.assign(topic);
  r.publisher.assign(publisher);
  r.properties.assign(properties);
  r.payload.assign(in);
  return r;
}

std::string EncodeAppendCommand(const Record& r, uint16_t qos2_packet_id) {
  std::string out;
  out.reserve(19 + r.topic.size() + r.publisher.size() + r.properties.size() + r.payload.size());
  if (qos2_packet_id == 0) {
    out.push_back(static_cast<char>(CommandType::kAppend));
  } else {
    out.push_back(static_cast<char>(CommandType::kAppendQos2));
    PutFixed16(out, qos2_packet_id);
  }
  EncodeRecordTo(out, r);
  return out;
}

std::string EncodeCursorCommand(CommandType type, const CursorCommand& c) {
  std::string out;
  out.push_back(static_cast<char>(type));
  PutLengthPrefixed(out, c.name);
  PutFixed64(out, c.offset.value());
  PutFixed64(out, static_cast<uint64_t>(c.now_ms));
  PutFixed64(out, static_cast<uint64_t>(c.expiry_ms));
  return out;
}

std::string EncodeRetentionCommand(int64_t now_ms) {
  std::string out;
  out.push_back(static_cast<char>(CommandType::kRetention));
  PutFixed64(out, static_cast<uint64_t>(now_ms));
  return out;
}

std::string EncodeReleaseQos2Command(uint16_t packet_id, std::string_view publisher) {
  std::string out;
  out.reserve(3 + publisher.size());
  out.push_back(static_cast<char>(CommandType::kReleaseQos2));
  PutFixed16(out, packet_id);
  out.append(publisher);
  return out;
}

std::string EncodePutStateCommand(std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(6 + key.size() + value.size());
  out.push_back(static_cast<char>(CommandType::kPutState));
  PutLengthPrefixed(out, key);
  out.append(value);
  return out;
}

std::string EncodeDeleteStateCommand(std::string_view key) {
  std::string out;
  out.reserve(1 + key.size());
  out.push_back(static_cast<char>(CommandType::kDeleteState));
  out.append(key);
  return out;
}

std::string EncodeEventCommand(std::string_view body) {
  std::string out;
  out.reserve(1 + body.size());
  out.push_back(static_cast<char>(CommandType::kEvent));
  out.append(body);
  return out;
}

absl::StatusOr<Command> DecodeCommand(std::string_view data) {
  if (data.empty()) return Malformed("command");
  Command c;
  c.type = static_cast<CommandType>(data[0]);
  data.remove_prefix(1);
  switch (c.type) {
    case CommandType::kAppend:
      c.record = data;
      return c;
    case CommandType::kCommitCursor:
    case CommandType::kDeleteCursor: {
      std::string_view name;
      if (!GetLengthPrefixed(data, name) || data.size() != 24) return Malformed("cursor command");
      c.cursor.name.assign(name);
      c.cursor.offset = Offset(GetFixed64(data));
      c.cursor.now_ms = static_cast<int64_t>(GetFixed64(data.substr(8)));
      c.cursor.expiry_ms = static_cast<int64_t>(GetFixed64(data.substr(16)));
      return c;
    }
    case CommandType::kRetention:
      if (data.size() != 8) return Malformed("retention command");
      c.now_ms = static_cast<int64_t>(GetFixed64(data));
      return c;
    case CommandType::kAppendQos2:
      if (data.size() < 2) return Malformed("qos 2 append command");
      c.packet_id = GetFixed16(data);
      c.record = data.substr(2);
      return c;
    case CommandType::kReleaseQos2:
      if (data.size() < 2) return Malformed("qos 2 release command");
      c.packet_id = GetFixed16(data);
      c.publisher = data.substr(2);
      return c;
    case CommandType::kPutState:
      if (!GetLengthPrefixed(data, c.key)) return Malformed("put state command");
      c.value = data;
      return c;
    case CommandType::kDeleteState:
      c.key = data;
      return c;
    case CommandType::kEvent:
      c.event = data;
      return c;
  }
  return Malformed("command type");
}

}  // namespace sluice::storage
