#include "storage/log/record.h"

#include "gtest/gtest.h"

namespace sluice::storage {
namespace {

Record Sample() {
  Record r;
  r.timestamp_ms = 1'700'000'000'123;
  r.topic = "sensors/a/temp";
  r.qos = 2;
  r.retain = true;
  r.payload = std::string("\x00\x01payload", 9);
  r.publisher = "dev-7";
  r.properties = std::string(300, 'p');  // length needs a two-byte varint
  return r;
}

TEST(RecordTest, RoundTrip) {
  const Record r = Sample();
  const std::string v = EncodeRecord(r);
  absl::StatusOr<Record> d = DecodeRecord(v);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, r);
  EXPECT_EQ(*DecodeRecordTimestamp(v), r.timestamp_ms);
  Record empty;
  EXPECT_EQ(*DecodeRecord(EncodeRecord(empty)), empty);
}

TEST(RecordTest, MalformedIsDataLoss) {
  const std::string v = EncodeRecord(Sample());
  EXPECT_EQ(DecodeRecord(v.substr(0, 12)).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRecord("").status().code(), absl::StatusCode::kDataLoss);
  std::string bad = v;
  bad[0] = 9;  // unknown version
  EXPECT_EQ(DecodeRecord(bad).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordTest, Commands) {
  const Record r = Sample();
  const std::string append = EncodeAppendCommand(r);  // the command views into it
  absl::StatusOr<Command> a = DecodeCommand(append);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, CommandType::kAppend);
  EXPECT_EQ(*DecodeRecord(a->record), r);

  CursorCommand cc{"session:dev-7", Offset(42), 1000, 60'000};
  absl::StatusOr<Command> c = DecodeCommand(EncodeCursorCommand(CommandType::kCommitCursor, cc));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->type, CommandType::kCommitCursor);
  EXPECT_EQ(c->cursor.name, "session:dev-7");
  EXPECT_EQ(c->cursor.offset, Offset(42));
  EXPECT_EQ(c->cursor.now_ms, 1000);
  EXPECT_EQ(c->cursor.expiry_ms, 60'000);

  absl::StatusOr<Command> t = DecodeCommand(EncodeRetentionCommand(77));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, CommandType::kRetention);
  EXPECT_EQ(t->now_ms, 77);
  EXPECT_FALSE(DecodeCommand(std::string("\x04\x01", 2)).ok());
  EXPECT_FALSE(DecodeCommand("").ok());
}

TEST(RecordTest, Qos2AndStateCommands) {
  const Record r = Sample();
  // Packet id 0 keeps the plain append bytes (what logs written before QoS 2 hold).
  EXPECT_EQ(EncodeAppendCommand(r, 0), EncodeAppendCommand(r));
  const std::string append = EncodeAppendCommand(r, 0xBEEF);
  EXPECT_EQ(append.size(), EncodeRecord(r).size() + AppendCommandHeaderBytes(0xBEEF));
  absl::StatusOr<Command> a = DecodeCommand(append);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, CommandType::kAppendQos2);
  EXPECT_EQ(a->packet_id, 0xBEEF);
  EXPECT_EQ(*DecodeRecord(a->record), r);
  absl::StatusOr<RecordView> v = DecodeRecordView(a->record);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->retain);
  EXPECT_TRUE(RecordRetainFlag(a->record));
  EXPECT_EQ(v->topic, r.topic);
  EXPECT_EQ(v->publisher, r.publisher);
  EXPECT_EQ(v->payload, r.payload);

  const std::string release = EncodeReleaseQos2Command(7, "dev-7");
  absl::StatusOr<Command> rel = DecodeCommand(release);
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->type, CommandType::kReleaseQos2);
  EXPECT_EQ(rel->packet_id, 7);
  EXPECT_EQ(rel->publisher, "dev-7");

  const std::string put = EncodePutStateCommand("k", std::string("\0v", 2));
  absl::StatusOr<Command> p = DecodeCommand(put);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->type, CommandType::kPutState);
  EXPECT_EQ(p->key, "k");
  EXPECT_EQ(p->value, std::string_view("\0v", 2));
  const std::string del = EncodeDeleteStateCommand("some/key");
  absl::StatusOr<Command> d = DecodeCommand(del);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, CommandType::kDeleteState);
  EXPECT_EQ(d->key, "some/key");

  EXPECT_FALSE(DecodeCommand(std::string("\x05\x01", 2)).ok());  // packet id cut short
  EXPECT_FALSE(DecodeCommand(std::string("\x07\x05k", 3)).ok());  // key longer than the rest
  EXPECT_FALSE(DecodeRecordView("xx").ok());
}

}  // namespace
}  // namespace sluice::storage
