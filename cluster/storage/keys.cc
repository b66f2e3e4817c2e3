#include "cluster/storage/keys.h"

#include "absl/status/status.h"

namespace sluice::raftstore {
namespace {

std::string GroupKey(GroupId group, char kind) {
  std::string k;
  k.reserve(kGroupKeyBytes + 1 + 8);
  k.push_back(kGroupPrefix);
  PutFixed64BE(k, group.value());
  k.push_back(kind);
  return k;
}

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(std::string("raft log store: corrupt ") + std::string(what));
}

}  // namespace

void PutFixed64BE(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed64BE(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string RegistryKey(GroupId group) {
  std::string k(1, kRegistryPrefix);
  PutFixed64BE(k, group.value());
  return k;
}

std::string EntryKey(GroupId group, LogIndex index) {
  std::string k = GroupKey(group, 'e');
  PutFixed64BE(k, index.value());
  return k;
}
std::string HardStateKey(GroupId group) { return GroupKey(group, 'h'); }
std::string SnapshotKey(GroupId group) { return GroupKey(group, 's'); }
std::string SnapshotImageKey(GroupId group) { return GroupKey(group, 'i'); }
std::string TruncatedKey(GroupId group) { return GroupKey(group, 't'); }

LogIndex EntryKeyIndex(std::string_view key) {
  return LogIndex(GetFixed64BE(key.substr(kGroupKeyBytes + 1)));
}
GroupId RegistryKeyGroup(std::string_view key) { return GroupId(GetFixed64BE(key.substr(1))); }

std::string EncodeEntry(const raft::Entry& e) {
  std::string v;
  v.reserve(9 + e.data.size());
  PutFixed64BE(v, e.term.value());
  v.push_back(static_cast<char>(e.type));
  v.append(e.data);
  return v;
}

absl::StatusOr<raft::Entry> DecodeEntry(LogIndex index, std::string_view value) {
  if (value.size() < 9) return Corrupt("entry");
  const uint8_t type = static_cast<uint8_t>(value[8]);
  if (type > static_cast<uint8_t>(raft::EntryType::kConfChange)) return Corrupt("entry type");
  return raft::Entry{sluice::Term(GetFixed64BE(value)), index, static_cast<raft::EntryType>(type),
                     std::string(value.substr(9))};
}

absl::StatusOr<EntryView> DecodeEntryView(std::string_view value) {
  if (value.size() < 9) return Corrupt("entry");
  const uint8_t type = static_cast<uint8_t>(value[8]);
  if (type > static_cast<uint8_t>(raft::EntryType::kConfChange)) return Corrupt("entry type");
  return EntryView{sluice::Term(GetFixed64BE(value)), static_cast<raft::EntryType>(type),
                   value.substr(9)};
}

absl::StatusOr<sluice::Term> DecodeEntryTerm(std::string_view value) {
  if (value.size() < 9) return Corrupt("entry");
  return sluice::Term(GetFixed64BE(value));
}

std::string EncodeHardState(const raft::HardState& hs) {
  std::string v;
  PutFixed64BE(v, hs.term.value());
  PutFixed64BE(v, hs.vote.value());
  PutFixed64BE(v, hs.commit.value());
  return v;
}

absl::StatusOr<raft::HardState> DecodeHardState(std::string_view v) {
  if (v.size() != 24) return Corrupt("hard state");
  return raft::HardState{sluice::Term(GetFixed64BE(v)), NodeId(GetFixed64BE(v.substr(8))),
                         LogIndex(GetFixed64BE(v.substr(16)))};
}

std::string EncodeSnapshot(const raft::Snapshot& s) {
  std::string v;
  const raft::ConfState& cs = s.metadata.conf_state;
  v.reserve(32 + 8 * (cs.voters.size() + cs.learners.size()) + s.data.size());
  PutFixed64BE(v, s.metadata.index.value());
  PutFixed64BE(v, s.metadata.term.value());
  PutFixed64BE(v, cs.voters.size());
  for (NodeId id : cs.voters) PutFixed64BE(v, id.value());
  PutFixed64BE(v, cs.learners.size());
  for (NodeId id : cs.learners) PutFixed64BE(v, id.value());
  v.append(s.data);
  return v;
}

absl::StatusOr<raft::Snapshot> DecodeSnapshot(std::string_view v) {
  raft::Snapshot s;
  if (v.size() < 24) return Corrupt("snapshot");
  s.metadata.index = LogIndex(GetFixed64BE(v));
  s.metadata.term = sluice::Term(GetFixed64BE(v.substr(8)));
  v.remove_prefix(16);
  for (std::vector<NodeId>* ids : {&s.metadata.conf_state.voters, &s.metadata.conf_state.learners}) {
    if (v.size() < 8) return Corrupt("snapshot");
    const uint64_t n = GetFixed64BE(v);
    v.remove_prefix(8);
    if (n > v.size() / 8) return Corrupt("snapshot membership");
    for (uint64_t i = 0; i < n; ++i) {
      ids->push_back(NodeId(GetFixed64BE(v)));
      v.remove_prefix(8);
    }
  }
  s.data = std::string(v);
  return s;
}

std::string EncodeTruncated(const Truncated& t) {
  std::string v;
  PutFixed64BE(v, t.index.value());
  PutFixed64BE(v, t.term.value());
  return v;
}

absl::StatusOr<Truncated> DecodeTruncated(std::string_view v) {
  if (v.size() != 16) return Corrupt("truncated state");
  return Truncated{LogIndex(GetFixed64BE(v)), sluice::Term(GetFixed64BE(v.substr(8)))};
}

}  // namespace sluice::raftstore
