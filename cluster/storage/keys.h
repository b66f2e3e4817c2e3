// Key layout and value encodings of the Raft log in RocksDB (see README.md "Key layout").
// All integers are fixed 8-byte big-endian so that byte order equals numeric order: one group's
// keys are contiguous, and its entries sort by index. Pure functions; thread-safe.
#ifndef SLUICE_CLUSTER_STORAGE_KEYS_H_
#define SLUICE_CLUSTER_STORAGE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/types.h"

namespace sluice::raftstore {

// 'G' + group             -> ""             (registry: one key per group, for ListGroups)
// 'g' + group + 'e' + idx -> EncodeEntry    (log entries)
// 'g' + group + 'h'       -> EncodeHardState
// 'g' + group + 'i'       -> snapshot image (opaque state-machine bytes)
// 'g' + group + 's'       -> EncodeSnapshot (metadata only; read at recovery)
// 'g' + group + 't'       -> EncodeTruncated (index and term of the last compacted entry)
inline constexpr char kRegistryPrefix = 'G';
inline constexpr char kGroupPrefix = 'g';
inline constexpr size_t kGroupKeyBytes = 1 + 8;

void PutFixed64BE(std::string& out, uint64_t v);
uint64_t GetFixed64BE(std::string_view in);  // in.size() >= 8

std::string RegistryKey(GroupId group);
std::string EntryKey(GroupId group, LogIndex index);
std::string HardStateKey(GroupId group);
std::string SnapshotKey(GroupId group);
std::string SnapshotImageKey(GroupId group);
std::string TruncatedKey(GroupId group);
// Index of an entry key made by EntryKey.
LogIndex EntryKeyIndex(std::string_view key);
// Group of a registry key.
GroupId RegistryKeyGroup(std::string_view key);

// Entry: term(8) type(1) data. The index lives in the key.
std::string EncodeEntry(const raft::Entry& e);
absl::StatusOr<raft::Entry> DecodeEntry(LogIndex index, std::string_view value);
absl::StatusOr<sluice::Term> DecodeEntryTerm(std::string_view value);
// The same without copying the data: `data` points into `value`.
struct EntryView {
  sluice::Term term;
  raft::EntryType type = raft::EntryType::kNormal;
  std::string_view data;
};
absl::StatusOr<EntryView> DecodeEntryView(std::string_view value);

std::string EncodeHardState(const raft::HardState& hs);
absl::StatusOr<raft::HardState> DecodeHardState(std::string_view value);

// index(8) term(8) n_voters(8) voters... n_learners(8) learners... data
std::string EncodeSnapshot(const raft::Snapshot& s);
absl::StatusOr<raft::Snapshot> DecodeSnapshot(std::string_view value);

struct Truncated {
  LogIndex index;
  sluice::Term term;
};
std::string EncodeTruncated(const Truncated& t);
absl::StatusOr<Truncated> DecodeTruncated(std::string_view value);

}  // namespace sluice::raftstore

#endif  // SLUICE_CLUSTER_STORAGE_KEYS_H_
