// Record: one message as the commit log stores it, and the commands a partition's Raft group
// applies (append a record, commit/delete a cursor, apply retention). Pure encoding functions;
// thread-safe. The storage library never depends on broker/: MQTT 5 properties travel as an
// opaque byte string (the broker encodes its property block with its codec).
//
// Record encoding (the value stored under the record's key, and the body of an append command):
//   version   u8  (kRecordVersion)
//   flags     u8  bits 0-1 QoS, bit 2 retain
//   timestamp i64 big-endian, wall-clock ms (fixed position: the timestamp index reads it
//                 without decoding the rest)
//   topic, publisher, properties: each varint32 length + bytes
//   payload   the rest of the value
// The offset is not in the value: it is the record's key.
#ifndef SLUICE_STORAGE_LOG_RECORD_H_
#define SLUICE_STORAGE_LOG_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace sluice::storage {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordTimestampPos = 2;  // version, flags

struct Record {
  int64_t timestamp_ms = 0;  // wall clock; 0 on Append = "now" from the log's Clock
  std::string topic;
  uint8_t qos = 0;
  bool retain = false;
  std::string payload;
  std::string publisher;   // client id of the sender
  std::string properties;  // MQTT 5 property block, opaque here

  bool operator==(const Record&) const = default;
};

// A record with the offset the log gave it.
struct StoredRecord {
  Offset offset;
  Record record;
};

std::string EncodeRecord(const Record& r);
void EncodeRecordTo(std::string& out, const Record& r);
// DataLoss on a malformed value.
absl::StatusOr<Record> DecodeRecord(std::string_view value);
// The timestamp of an encoded record (DataLoss if too short).
absl::StatusOr<int64_t> DecodeRecordTimestamp(std::string_view value);

// Commands carried in a partition's Raft log (the MultiRaft envelope wraps them).
enum class CommandType : uint8_t {
  kAppend = 1,        // body: an encoded Record
  kCommitCursor = 2,  // body: name, offset, now_ms, expiry_ms
  kDeleteCursor = 3,  // body: name
  kRetention = 4,     // body: now_ms (the proposer's wall clock: Apply must be deterministic)
};

struct CursorCommand {
  std::string name;
  Offset offset;
  int64_t now_ms = 0;
  int64_t expiry_ms = 0;  // 0 = never expires
};

std::string EncodeAppendCommand(const Record& r);
std::string EncodeCursorCommand(CommandType type, const CursorCommand& c);
std::string EncodeRetentionCommand(int64_t now_ms);

// Decoded view of a command (record body points into the input).
struct Command {
  CommandType type;
  std::string_view record;  // kAppend: the encoded record
  CursorCommand cursor;     // kCommitCursor / kDeleteCursor
  int64_t now_ms = 0;       // kRetention
};
absl::StatusOr<Command> DecodeCommand(std::string_view data);

// Byte helpers shared by the log's key and value encodings.
void PutFixed64(std::string& out, uint64_t v);  // big-endian
uint64_t GetFixed64(std::string_view in);        // in.size() >= 8
void PutVarint32(std::string& out, uint32_t v);
// Reads a varint32-prefixed string from the front of `in`; false if malformed.
bool GetLengthPrefixed(std::string_view& in, std::string_view& out);

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_RECORD_H_
