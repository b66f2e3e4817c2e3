// Record: one message as the commit log stores it, and the commands the log's Raft groups
// apply (a partition's: append a record, commit/delete a cursor, apply retention, release a
// QoS 2 packet id; the metadata group's: put/delete a key). Pure encoding functions;
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

// Commands carried in the Raft logs (the MultiRaft envelope wraps them). Types 1-6 belong to
// a partition's group, 7-9 to the metadata group. Numbers are on disk: never reuse one.
enum class CommandType : uint8_t {
  kAppend = 1,        // body: an encoded Record
  kCommitCursor = 2,  // body: name, offset, now_ms, expiry_ms
  kDeleteCursor = 3,  // body: name
  kRetention = 4,     // body: now_ms (the proposer's wall clock: Apply must be deterministic)
  // body: packet_id u16 BE, then an encoded Record. An append whose QoS 2 packet id is stored
  // with it (a distinct type so that plain appends keep the kAppend bytes of older logs).
  kAppendQos2 = 5,
  kReleaseQos2 = 6,   // body: packet_id u16 BE, then the publisher (rest)
  kPutState = 7,      // body: key (varint32 length + bytes), then the value (rest)
  kDeleteState = 8,   // body: key (rest)
  // body: opaque (rest). Applied in order like the others but changes no state: every
  // replica hands it to LogStateOptions::event_listener (cluster/ decodes it).
  kEvent = 9,
};

struct CursorCommand {
  std::string name;
  Offset offset;
  int64_t now_ms = 0;
  int64_t expiry_ms = 0;  // 0 = never expires
};

// `qos2_packet_id` 0 = a plain kAppend, else kAppendQos2.
std::string EncodeAppendCommand(const Record& r, uint16_t qos2_packet_id = 0);
// The size of the header EncodeAppendCommand puts before the encoded record.
inline size_t AppendCommandHeaderBytes(uint16_t qos2_packet_id) {
  return qos2_packet_id == 0 ? 1 : 3;
}
std::string EncodeCursorCommand(CommandType type, const CursorCommand& c);
std::string EncodeRetentionCommand(int64_t now_ms);
std::string EncodeReleaseQos2Command(uint16_t packet_id, std::string_view publisher);
std::string EncodePutStateCommand(std::string_view key, std::string_view value);
std::string EncodeDeleteStateCommand(std::string_view key);
std::string EncodeEventCommand(std::string_view body);

// Decoded view of a command (the string_views point into the input).
struct Command {
  CommandType type;
  std::string_view record;  // kAppend / kAppendQos2: the encoded record
  CursorCommand cursor;     // kCommitCursor / kDeleteCursor
  int64_t now_ms = 0;       // kRetention
  uint16_t packet_id = 0;   // kAppendQos2 / kReleaseQos2 (0 for a plain append)
  std::string_view publisher;  // kReleaseQos2
  std::string_view key;        // kPutState / kDeleteState
  std::string_view value;      // kPutState
  std::string_view event;      // kEvent
};
absl::StatusOr<Command> DecodeCommand(std::string_view data);

// The fields of an encoded record as views into it, without copying the payload (Apply needs
// the topic and publisher of some records). DataLoss if malformed.
struct RecordView {
  bool retain = false;
  std::string_view topic;
  std::string_view publisher;
  std::string_view payload;
};
absl::StatusOr<RecordView> DecodeRecordView(std::string_view value);
// The retain flag of an encoded record (false if too short to have flags).
inline bool RecordRetainFlag(std::string_view value) {
  return value.size() > 1 && (static_cast<uint8_t>(value[1]) & 0x4) != 0;
}

// Byte helpers shared by the log's key and value encodings.
void PutFixed64(std::string& out, uint64_t v);  // big-endian
uint64_t GetFixed64(std::string_view in);        // in.size() >= 8
void PutFixed16(std::string& out, uint16_t v);  // big-endian
uint16_t GetFixed16(std::string_view in);        // in.size() >= 2
void PutVarint32(std::string& out, uint32_t v);
// Reads a varint32-prefixed string from the front of `in`; false if malformed.
bool GetLengthPrefixed(std::string_view& in, std::string_view& out);

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_RECORD_H_
