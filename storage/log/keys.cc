#include "storage/log/keys.h"

#include "absl/status/status.h"
#include "storage/log/record.h"

namespace sluice::storage {
namespace {

void PutFixed32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string Prefix(char c, PartitionId p, size_t reserve) {
  std::string k;
  k.reserve(5 + reserve);
  k.push_back(c);
  PutFixed32(k, p.value());
  return k;
}

}  // namespace

std::string MetaKey(PartitionId p) { return Prefix('m', p, 0); }

std::string RecordKey(PartitionId p, Offset o) {
  std::string k = Prefix('r', p, 8);
  PutFixed64(k, o.value());
  return k;
}

std::string IndexKey(PartitionId p, Offset o) {
  std::string k = Prefix('x', p, 8);
  PutFixed64(k, o.value());
  return k;
}

std::string CursorKey(PartitionId p, std::string_view name) {
  std::string k = Prefix('c', p, name.size());
  k.append(name);
  return k;
}

std::string PrefixStart(char prefix, PartitionId p) { return Prefix(prefix, p, 0); }

std::string PrefixEnd(char prefix, PartitionId p) {
  // Partition ids are below 2^32 - 1 in practice; the next partition's prefix ends the range.
  return Prefix(prefix, PartitionId(p.value() + 1), 0);
}

Offset KeyOffset(std::string_view key) { return Offset(GetFixed64(key.substr(5))); }

std::string_view CursorKeyName(std::string_view key) { return key.substr(5); }

std::string Qos2Key(PartitionId p, uint16_t packet_id, std::string_view publisher) {
  std::string k = Prefix(kQos2Prefix, p, 2 + publisher.size());
  PutFixed16(k, packet_id);
  k.append(publisher);
  return k;
}

absl::StatusOr<Qos2KeyFields> DecodeQos2Key(std::string_view key) {
  if (key.size() < 7 || key[0] != kQos2Prefix) {
    return absl::DataLossError("commit log: malformed qos 2 key");
  }
  uint32_t p = 0;
  for (int i = 1; i <= 4; ++i) p = (p << 8) | static_cast<uint8_t>(key[i]);
  return Qos2KeyFields{PartitionId(p), GetFixed16(key.substr(5)), key.substr(7)};
}

std::string RetainedKey(std::string_view topic) {
  std::string k;
  k.reserve(1 + topic.size());
  k.push_back(kRetainedPrefix);
  k.append(topic);
  return k;
}

std::string StateKey(std::string_view key) {
  std::string k;
  k.reserve(1 + key.size());
  k.push_back(kStatePrefix);
  k.append(key);
  return k;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<uint8_t>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

std::string EncodeMeta(const PartitionMeta& m) {
  std::string v;
  PutFixed64(v, m.applied.value());
  PutFixed64(v, m.start.value());
  PutFixed64(v, m.next.value());
  PutFixed64(v, static_cast<uint64_t>(m.max_log_time_ms));
  PutFixed64(v, m.bytes_appended);
  PutFixed64(v, m.imported_end.value());
  return v;
}

absl::StatusOr<PartitionMeta> DecodeMeta(std::string_view v) {
  // 40 bytes: layout 1, before imported_end (PartitionedLog's migration sets it).
  if (v.size() != 40 && v.size() != 48) {
    return absl::DataLossError("commit log: malformed partition meta");
  }
  PartitionMeta m;
  m.applied = LogIndex(GetFixed64(v));
  m.start = Offset(GetFixed64(v.substr(8)));
  m.next = Offset(GetFixed64(v.substr(16)));
  m.max_log_time_ms = static_cast<int64_t>(GetFixed64(v.substr(24)));
  m.bytes_appended = GetFixed64(v.substr(32));
  if (v.size() == 48) m.imported_end = Offset(GetFixed64(v.substr(40)));
  return m;
}

std::string EncodeIndexValue(const IndexEntry& e) {
  std::string v;
  PutFixed64(v, static_cast<uint64_t>(e.log_time_ms));
  PutFixed64(v, e.bytes_before);
  PutFixed64(v, e.raft_index.value());
  return v;
}

absl::StatusOr<IndexEntry> DecodeIndexValue(Offset o, std::string_view v) {
  if (v.size() != 16 && v.size() != 24) {
    return absl::DataLossError("commit log: malformed index entry");
  }
  IndexEntry e{o, static_cast<int64_t>(GetFixed64(v)), GetFixed64(v.substr(8))};
  if (v.size() == 24) e.raft_index = LogIndex(GetFixed64(v.substr(16)));  // else layout 1
  return e;
}

}  // namespace sluice::storage
