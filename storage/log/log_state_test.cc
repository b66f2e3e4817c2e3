// LogState's batched apply on a real RocksDB directory: appends of one apply batch reach
// readers together once EndApplyBatch wrote them, each completion finds its own offset, and
// a command that is not an append writes after the appends before it.
#include "storage/log/log_state.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/storage/keys.h"
#include "rocksdb/db.h"
#include "storage/log/record.h"
#include "storage/testing/log_fixture.h"

namespace sluice::storage {
namespace {

using testing::MakeRecord;
using testing::TestDir;

class LogStateTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    state_.reset();
    db_.reset();
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, dir_, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    LogStateOptions lo;
    lo.partitions = 2;
    state_ = std::make_unique<LogState>(db_.get(), lo);
    ASSERT_TRUE(state_->Load().ok());
  }

  // As the driver does: the Raft entry is written (it holds the record), then applied.
  void Append(uint32_t partition, uint64_t index, const std::string& payload) {
    const GroupId g = LogState::GroupOf(PartitionId(partition));
    const std::string command = EncodeAppendCommand(MakeRecord("t", payload, 1000));
    raft::Entry e{Term(1), LogIndex(index), raft::EntryType::kNormal,
                  multiraft::EncodeProposal({NodeId(1), 7, index}, command)};
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), raftstore::EntryKey(g, LogIndex(index)),
                         raftstore::EncodeEntry(e)).ok());
    state_->Apply(g, LogIndex(index), command);
  }

  uint64_t HighWatermark(uint32_t partition) {
    absl::StatusOr<PartitionInfo> info = state_->Info(PartitionId(partition));
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->high_watermark.value() : 0;
  }

  std::string dir_ = TestDir();
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<LogState> state_;
};

TEST_F(LogStateTest, AppendsOfABatchAreVisibleTogetherAfterEndApplyBatch) {
  Append(0, 1, "a");
  Append(0, 2, "b");
  Append(1, 1, "c");
  EXPECT_EQ(HighWatermark(0), 0u) << "readers must not see offsets not yet written";
  EXPECT_EQ(HighWatermark(1), 0u);
  state_->EndApplyBatch();
  EXPECT_EQ(HighWatermark(0), 2u);
  EXPECT_EQ(HighWatermark(1), 1u);
  EXPECT_EQ(state_->AppendedOffset(PartitionId(0), LogIndex(1)).value(), 0u);
  EXPECT_EQ(state_->AppendedOffset(PartitionId(0), LogIndex(2)).value(), 1u);
  EXPECT_EQ(state_->AppendedOffset(PartitionId(1), LogIndex(1)).value(), 0u);
  absl::StatusOr<std::vector<StoredRecord>> read = state_->Read(PartitionId(0), Offset(0), 10, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].record.payload, "a");
  EXPECT_EQ((*read)[1].record.payload, "b");
  // The next batch's completions find their own offsets.
  Append(0, 3, "d");
  state_->EndApplyBatch();
  EXPECT_EQ(state_->AppendedOffset(PartitionId(0), LogIndex(3)).value(), 2u);
  // Written for good: a reopened state has all of them.
  Open();
  EXPECT_EQ(HighWatermark(0), 3u);
  EXPECT_EQ(HighWatermark(1), 1u);
}

TEST_F(LogStateTest, ACursorCommandWritesAfterThePendingAppends) {
  Append(0, 1, "a");
  Append(0, 2, "b");
  CursorCommand c;
  c.name = "session:x";
  c.offset = Offset(2);
  // A cursor is clamped to the high watermark: it must see the two appends before it.
  state_->Apply(LogState::GroupOf(PartitionId(0)), LogIndex(3),
                EncodeCursorCommand(CommandType::kCommitCursor, c));
  EXPECT_EQ(HighWatermark(0), 2u);
  absl::StatusOr<CursorInfo> cursor = state_->GetCursor(PartitionId(0), "session:x");
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(cursor->offset.value(), 2u);
  state_->EndApplyBatch();
  EXPECT_EQ(state_->AppendedOffset(PartitionId(0), LogIndex(2)).value(), 1u);
}

TEST_F(LogStateTest, ReplayedEntriesOfAPendingBatchAreSkipped) {
  Append(0, 1, "a");
  Append(0, 1, "a");  // the same index again (replay): applied once
  state_->EndApplyBatch();
  EXPECT_EQ(HighWatermark(0), 1u);
}

}  // namespace
}  // namespace sluice::storage
