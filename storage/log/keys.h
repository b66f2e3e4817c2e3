// Key layout of a partition's applied state, kept in the same RocksDB as the Raft log
// (cluster/storage/keys.h owns the 'G' and 'g' keys; see README.md "One database"). A record
// lives in its Raft log entry; the sparse index says which entry holds the first record of
// each block. Partition ids are 4 bytes and offsets 8 bytes, big-endian, so one partition's
// keys are contiguous and sort by offset. Pure; thread-safe.
//   'V'                    -> layout version(8)                (kLayoutVersion)
//   'L'                    -> partitions(8) key_levels(8)      (fixed when the log is created)
//   'm' p                  -> PartitionMeta                    (rewritten with every apply)
//   'r' p offset           -> EncodeRecord   (only below PartitionMeta::imported_end: records
//                             stored outside the Raft log, e.g. migrated from layout 1)
//   'x' p offset           -> log_time_ms(8) bytes_before(8) raft_index(8)  (sparse index,
//                             one per block; 16-byte values of layout 1 have no raft index)
//   'c' p name             -> offset(8) updated_ms(8) expiry_ms(8)
//   'q' p packet_id(2) publisher -> offset(8)   (a QoS 2 publish stored, PUBREL not yet seen)
//   't' topic              -> offset(8) EncodeRecord  (the topic's retained message)
//   'K'                    -> applied Raft index(8) of the metadata group
//   'k' key                -> value                   (the metadata group's key-value state)
// Retained keys carry no partition: a topic always maps to the same partition (the layout is
// fixed at creation), so exactly one partition's group ever writes a given 't' key.
// Retention deletes only 'r' and 'x' ranges: 'q' and 't' keys outlive their records.
#ifndef SLUICE_STORAGE_LOG_KEYS_H_
#define SLUICE_STORAGE_LOG_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "storage/log/retention.h"

namespace sluice::storage {

inline constexpr char kLayoutKey[] = "L";
inline constexpr char kLayoutVersionKey[] = "V";
// 1: records in a database of their own (dir/records) besides the Raft log (dir/raft).
// 2: one database; records read from the Raft log.
inline constexpr uint64_t kLayoutVersion = 2;
inline constexpr char kStateMetaKey[] = "K";
inline constexpr char kQos2Prefix = 'q';
inline constexpr char kRetainedPrefix = 't';
inline constexpr char kStatePrefix = 'k';

// What a partition's applied state is, besides its records, index and cursors.
struct PartitionMeta {
  LogIndex applied;  // last Raft index applied to this database
  Offset start;      // log start offset
  Offset next;       // high watermark
  int64_t max_log_time_ms = 0;
  uint64_t bytes_appended = 0;
  // Records below this offset are stored under 'r' keys, not in Raft log entries.
  Offset imported_end;
};

std::string MetaKey(PartitionId p);
std::string RecordKey(PartitionId p, Offset o);
std::string IndexKey(PartitionId p, Offset o);
std::string CursorKey(PartitionId p, std::string_view name);
// The first key after every key of `p` with that prefix character.
std::string PrefixEnd(char prefix, PartitionId p);
std::string PrefixStart(char prefix, PartitionId p);
Offset KeyOffset(std::string_view key);          // of a RecordKey / IndexKey
std::string_view CursorKeyName(std::string_view key);

std::string Qos2Key(PartitionId p, uint16_t packet_id, std::string_view publisher);
struct Qos2KeyFields {
  PartitionId partition;
  uint16_t packet_id = 0;
  std::string_view publisher;  // points into the key
};
// DataLoss if `key` is no Qos2Key.
absl::StatusOr<Qos2KeyFields> DecodeQos2Key(std::string_view key);
std::string RetainedKey(std::string_view topic);
std::string StateKey(std::string_view key);
// The smallest key greater than every key starting with `prefix` ("" = no upper bound: only
// when `prefix` is empty or all 0xff, which no caller here has since every prefix starts with a
// letter).
std::string PrefixSuccessor(std::string prefix);

std::string EncodeMeta(const PartitionMeta& m);
absl::StatusOr<PartitionMeta> DecodeMeta(std::string_view v);
std::string EncodeIndexValue(const IndexEntry& e);
absl::StatusOr<IndexEntry> DecodeIndexValue(Offset o, std::string_view v);

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_KEYS_H_
