// PartitionedLog on real RocksDB directories in TEST_TMPDIR. Time is a ManualClock: retention
// and timestamp tests never sleep.
#include "storage/log/partitioned_log.h"

#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "gtest/gtest.h"
#include "storage/testing/log_fixture.h"

namespace sluice::storage {
namespace {

using testing::MakeRecord;
using testing::TestDir;
using testing::TestOptions;

std::unique_ptr<PartitionedLog> OpenOrDie(const PartitionedLogOptions& o) {
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

Offset AppendOrDie(PartitionedLog& log, PartitionId p, const Record& r) {
  absl::StatusOr<Offset> o = log.Append(p, r).get();
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : Offset(~0ull);
}

std::vector<StoredRecord> ReadAll(const PartitionedLog& log, PartitionId p, Offset from) {
  absl::StatusOr<std::vector<StoredRecord>> r = log.Read(p, from, 1'000'000);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<StoredRecord>{};
}

TEST(PartitionedLogTest, AppendReadKeepsOrderPerPartition) {
  auto log = OpenOrDie(TestOptions(TestDir(), 4));
  ASSERT_TRUE(log);
  // 4 threads x 3 topics each, 150 records per topic, appended concurrently and pipelined.
  constexpr int kThreads = 4, kTopics = 3, kPerTopic = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<absl::StatusOr<Offset>>> fs;
      for (int i = 0; i < kPerTopic; ++i) {
        for (int k = 0; k < kTopics; ++k) {
          const std::string topic = "t" + std::to_string(t) + "/k" + std::to_string(k);
          fs.push_back(log->Append(log->PartitionFor(topic),
                                   MakeRecord(topic, std::to_string(i), 1000 + i)));
        }
      }
      for (auto& f : fs) ASSERT_TRUE(f.get().ok());
    });
  }
  for (auto& th : threads) th.join();

  uint64_t total = 0;
  for (uint32_t p = 0; p < log->partitions(); ++p) {
    const PartitionInfo info = *log->Info(PartitionId(p));
    EXPECT_EQ(info.log_start, Offset(0));
    std::vector<StoredRecord> recs = ReadAll(*log, PartitionId(p), Offset(0));
    ASSERT_EQ(recs.size(), info.high_watermark.value());
    std::map<std::string, int> last;  // per topic, the last payload seen: must increase by one
    for (size_t i = 0; i < recs.size(); ++i) {
      EXPECT_EQ(recs[i].offset, Offset(i));  // dense
      const Record& r = recs[i].record;
      EXPECT_EQ(log->PartitionFor(r.topic), PartitionId(p));
      const int seq = std::stoi(r.payload);
      auto it = last.find(r.topic);
      EXPECT_EQ(seq, it == last.end() ? 0 : it->second + 1) << r.topic;
      last[r.topic] = seq;
      EXPECT_EQ(r.qos, 1);
      EXPECT_EQ(r.publisher, "client-1");
      EXPECT_EQ(r.properties, std::string("\x01\x01", 2));
      EXPECT_EQ(r.timestamp_ms, 1000 + seq);
    }
    total += recs.size();
  }
  EXPECT_EQ(total, uint64_t{kThreads * kTopics * kPerTopic});
  // Group commit: far fewer synced Raft writes than appends.
  const LogStats s = log->stats();
  EXPECT_EQ(s.appends, total);
  EXPECT_LT(s.raft_writes, total);
  // Every partition is led by this node; its commit index covers the appends.
  for (uint32_t p = 0; p < log->partitions(); ++p) {
    const uint64_t hwm = log->Info(PartitionId(p))->high_watermark.value();
    std::optional<multiraft::GroupStatus> rs = log->RaftStatus(PartitionId(p));
    // The status is published right after the Ready that completed the last append: re-read
    // (bounded) until it has caught up. Raft indexes >= offsets (election and cursor entries).
    for (int i = 0; i < 200 && rs && rs->commit.value() < hwm; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      rs = log->RaftStatus(PartitionId(p));
    }
    ASSERT_TRUE(rs.has_value());
    EXPECT_EQ(rs->leader, log->node_id());
    EXPECT_GE(rs->term.value(), 1u);
    EXPECT_GE(rs->commit.value(), hwm);
    EXPECT_EQ(rs->leader_changes, 1u);
  }
  EXPECT_FALSE(log->RaftStatus(PartitionId(log->partitions())).has_value());
}

TEST(PartitionedLogTest, ReadLimitsAndBounds) {
  auto log = OpenOrDie(TestOptions(TestDir(), 1));
  ASSERT_TRUE(log);
  const PartitionId p(0);
  for (int i = 0; i < 10; ++i) AppendOrDie(*log, p, MakeRecord("a", std::string(100, 'x')));
  EXPECT_EQ(log->Read(p, Offset(2), 3)->size(), 3u);
  EXPECT_EQ(log->Read(p, Offset(2), 3)->front().offset, Offset(2));
  EXPECT_EQ(log->Read(p, Offset(0), 100, 250)->size(), 2u);  // ~120 bytes per record
  EXPECT_EQ(log->Read(p, Offset(0), 100, 1)->size(), 1u);    // at least one
  EXPECT_TRUE(log->Read(p, Offset(10), 100)->empty());       // at the high watermark
  EXPECT_EQ(log->Read(p, Offset(11), 100).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->Read(PartitionId(5), Offset(0), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append(PartitionId(5), MakeRecord("a", "b")).get().status().code(),
            absl::StatusCode::kInvalidArgument);
  PartitionedLogOptions o = log->options();
  Record big = MakeRecord("a", std::string(o.record_bytes_max + 1, 'x'));
  EXPECT_EQ(log->Append(p, big).get().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PartitionedLogTest, OffsetsDenseAcrossRestartAndRaftCompaction) {
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.snapshot_interval_entries = 25;  // snapshots and Raft log compaction during the test
  o.compaction_lag_entries = 5;
  for (int round = 0; round < 3; ++round) {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    for (uint32_t p = 0; p < 2; ++p) {
      EXPECT_EQ(log->Info(PartitionId(p))->high_watermark, Offset(round * 60));
      for (int i = 0; i < 60; ++i) {
        EXPECT_EQ(AppendOrDie(*log, PartitionId(p), MakeRecord("t", std::to_string(i))),
                  Offset(round * 60 + i));
      }
    }
    EXPECT_GT(log->raft_stats().snapshots_taken, 0u);
  }
  auto log = OpenOrDie(o);
  std::vector<StoredRecord> recs = ReadAll(*log, PartitionId(1), Offset(0));
  ASSERT_EQ(recs.size(), 180u);
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].offset, Offset(i));
    EXPECT_EQ(recs[i].record.payload, std::to_string(i % 60));
  }
}

// fsync interval and none: the same dense offsets and contents across reopen (the files a
// destroyed log leaves are those a kill -9 leaves), with snapshots and Raft compaction in
// between (TakeSnapshot syncs the unsynced Raft log before the records database).
TEST(PartitionedLogTest, FsyncIntervalAndNoneKeepEverythingAcrossReopen) {
  for (int64_t interval_ms : {int64_t{20}, int64_t{-1}}) {
    PartitionedLogOptions o = TestOptions(TestDir(std::to_string(interval_ms)), 2);
    if (interval_ms < 0) {
      o.sync = false;
    } else {
      o.sync_interval_ms = interval_ms;
    }
    o.snapshot_interval_entries = 25;
    o.compaction_lag_entries = 5;
    for (int round = 0; round < 3; ++round) {
      auto log = OpenOrDie(o);
      ASSERT_TRUE(log);
      for (int i = 0; i < 40; ++i)
        EXPECT_EQ(AppendOrDie(*log, PartitionId(1), MakeRecord("t", std::to_string(i))),
                  Offset(round * 40 + i));
    }
    auto log = OpenOrDie(o);
    std::vector<StoredRecord> recs = ReadAll(*log, PartitionId(1), Offset(0));
    ASSERT_EQ(recs.size(), 120u) << "interval_ms=" << interval_ms;
    for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].record.payload, std::to_string(i % 40));
  }
  PartitionedLogOptions bad = TestOptions(TestDir("bad"), 1);
  bad.sync_interval_ms = -5;
  EXPECT_EQ(PartitionedLog::Open(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// A snapshot taken right after a restart's election covers the new leader's empty entry,
// which applies nothing: the state's applied index is then below the snapshot index, and the
// next open must still accept it. Partition 0 gets 3 appends (indexes 2-4, the empty entry of
// the 2nd open is 5 = a snapshot); partition 1 and the metadata group only empty entries.
TEST(PartitionedLogTest, SnapshotAtANewLeadersEmptyEntryReopens) {
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.snapshot_interval_entries = 5;
  o.compaction_lag_entries = 1;
  for (int open = 0; open < 7; ++open) {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log) << "open " << open;
    if (open == 0) {
      for (int i = 0; i < 3; ++i) AppendOrDie(*log, PartitionId(0), MakeRecord("t", "x"));
    }
    EXPECT_EQ(log->Info(PartitionId(0))->high_watermark, Offset(3));
  }
}

TEST(PartitionedLogTest, LayoutIsFixed) {
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  OpenOrDie(o).reset();
  o.partitions = 3;
  EXPECT_EQ(PartitionedLog::Open(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PartitionedLogTest, CursorsSurviveRestart) {
  ManualClock clock(5000);
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.clock = &clock;
  {
    auto log = OpenOrDie(o);
    for (int i = 0; i < 5; ++i) AppendOrDie(*log, PartitionId(1), MakeRecord("t", "x"));
    ASSERT_TRUE(log->CommitCursor(PartitionId(1), "session:a", Offset(3)).ok());
    ASSERT_TRUE(log->CommitCursor(PartitionId(1), "bridge", Offset(5), 60'000).ok());
    ASSERT_TRUE(log->CommitCursor(PartitionId(1), "gone", Offset(1)).ok());
    ASSERT_TRUE(log->CommitCursor(PartitionId(1), "session:a", Offset(4)).ok());  // moves
    ASSERT_TRUE(log->DeleteCursor(PartitionId(1), "gone").ok());
    EXPECT_EQ(log->CommitCursor(PartitionId(1), "x", Offset(6)).code(),
              absl::StatusCode::kOutOfRange);
    EXPECT_EQ(log->CommitCursor(PartitionId(1), "", Offset(0)).code(),
              absl::StatusCode::kInvalidArgument);
  }
  auto log = OpenOrDie(o);
  EXPECT_EQ(log->GetCursor(PartitionId(1), "session:a")->offset, Offset(4));
  const CursorInfo bridge = *log->GetCursor(PartitionId(1), "bridge");
  EXPECT_EQ(bridge.offset, Offset(5));
  EXPECT_EQ(bridge.updated_ms, 5000);
  EXPECT_EQ(bridge.expiry_ms, 60'000);
  EXPECT_EQ(log->GetCursor(PartitionId(1), "gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log->GetCursor(PartitionId(0), "session:a").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(log->ListCursors(PartitionId(1))->size(), 2u);
}

// 10 records per index block; record i has timestamp 1000 * i (ms).
PartitionedLogOptions RetentionOptions(const std::string& dir, ManualClock* clock) {
  PartitionedLogOptions o = TestOptions(dir, 1);
  o.clock = clock;
  o.index_interval_records = 10;
  o.index_interval_ms = 1'000'000;
  return o;
}

void AppendTimed(PartitionedLog& log, int from, int to) {
  for (int i = from; i < to; ++i) {
    AppendOrDie(log, PartitionId(0), MakeRecord("t", std::string(90, 'x'), 1000LL * i));
  }
}

TEST(PartitionedLogTest, RetentionByTimeDeletesWholeBlocks) {
  ManualClock clock(0);
  PartitionedLogOptions o = RetentionOptions(TestDir(), &clock);
  o.retention.retention_ms = 30'000;
  {
    auto log = OpenOrDie(o);
    AppendTimed(*log, 0, 100);
    clock.SetMs(75'500);  // cutoff 45 500: blocks starting at 0..40 s are older
    EXPECT_EQ(*log->EnforceRetention(), 1);
    PartitionInfo info = *log->Info(PartitionId(0));
    EXPECT_EQ(info.log_start, Offset(40));  // block 40 may hold records newer than the cutoff
    EXPECT_EQ(info.high_watermark, Offset(100));
    EXPECT_EQ(info.records_deleted, 40u);
    EXPECT_EQ(log->Read(PartitionId(0), Offset(39), 1).status().code(),
              absl::StatusCode::kOutOfRange);
    EXPECT_EQ(ReadAll(*log, PartitionId(0), Offset(40)).size(), 60u);
    EXPECT_EQ(*log->EnforceRetention(), 0);  // nothing more to do: no proposal
    // Appends continue at the high watermark.
    AppendTimed(*log, 100, 101);
  }
  auto log = OpenOrDie(o);  // start offset and index survive a restart
  EXPECT_EQ(log->Info(PartitionId(0))->log_start, Offset(40));
  EXPECT_EQ(log->IndexForTesting(PartitionId(0)).front().offset, Offset(40));
  clock.SetMs(1'000'000);  // everything expired
  EXPECT_EQ(*log->EnforceRetention(), 1);
  PartitionInfo info = *log->Info(PartitionId(0));
  EXPECT_EQ(info.log_start, Offset(101));
  EXPECT_EQ(info.bytes, 0u);
  EXPECT_TRUE(ReadAll(*log, PartitionId(0), Offset(101)).empty());
  EXPECT_EQ(AppendOrDie(*log, PartitionId(0), MakeRecord("t", "y", 2'000'000)), Offset(101));
  EXPECT_EQ(ReadAll(*log, PartitionId(0), Offset(101)).size(), 1u);
}

TEST(PartitionedLogTest, RetentionBySizeRespectsCursorsUnlessHardLimit) {
  ManualClock clock(0);
  PartitionedLogOptions o = RetentionOptions(TestDir(), &clock);
  auto log = OpenOrDie(o);
  const PartitionId p(0);
  AppendTimed(*log, 0, 100);
  const uint64_t bytes = log->Info(p)->bytes;
  const uint64_t per_block = bytes / 10;
  // Re-open with limits: keep ~3 blocks soft, ~6 blocks hard.
  log.reset();
  o.retention.retention_bytes = per_block * 3;
  o.retention.hard_retention_bytes = per_block * 6;
  log = OpenOrDie(o);
  ASSERT_TRUE(log->CommitCursor(p, "slow-session", Offset(15)).ok());
  ASSERT_TRUE(log->CommitCursor(p, "bridge", Offset(55)).ok());
  // The soft limit wants start 70; the slow cursor holds it at its block (10)... but the hard
  // limit forces 40, past the cursor: counted.
  EXPECT_EQ(*log->EnforceRetention(), 1);
  PartitionInfo info = *log->Info(p);
  EXPECT_EQ(info.log_start, Offset(40));
  EXPECT_EQ(info.records_deleted_past_cursor, 25u);
  EXPECT_EQ(info.bytes, per_block * 6);
  // The slow session moves on: the soft limit may now go as far as the bridge's block.
  ASSERT_TRUE(log->CommitCursor(p, "slow-session", Offset(90)).ok());
  EXPECT_EQ(*log->EnforceRetention(), 1);
  EXPECT_EQ(log->Info(p)->log_start, Offset(50));
  EXPECT_EQ(log->Info(p)->records_deleted_past_cursor, 25u);
  ASSERT_TRUE(log->DeleteCursor(p, "bridge").ok());
  EXPECT_EQ(*log->EnforceRetention(), 1);
  EXPECT_EQ(log->Info(p)->log_start, Offset(70));
  EXPECT_EQ(ReadAll(*log, p, Offset(70)).front().offset, Offset(70));
}

TEST(PartitionedLogTest, ExpiredCursorStopsHoldingRetention) {
  ManualClock clock(0);
  PartitionedLogOptions o = RetentionOptions(TestDir(), &clock);
  o.retention.retention_ms = 10'000;
  auto log = OpenOrDie(o);
  AppendTimed(*log, 0, 50);
  clock.SetMs(50'000);
  ASSERT_TRUE(log->CommitCursor(PartitionId(0), "offline", Offset(0), 60'000).ok());
  clock.SetMs(100'000);  // all records expired, but the cursor is live until 110 000
  EXPECT_EQ(*log->EnforceRetention(), 0);
  EXPECT_EQ(log->Info(PartitionId(0))->log_start, Offset(0));
  clock.SetMs(110'000);
  EXPECT_EQ(*log->EnforceRetention(), 1);
  EXPECT_EQ(log->Info(PartitionId(0))->log_start, Offset(50));
  EXPECT_EQ(log->Info(PartitionId(0))->records_deleted_past_cursor, 0u);
  EXPECT_EQ(log->GetCursor(PartitionId(0), "offline").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PartitionedLogTest, OffsetForTimestamp) {
  ManualClock clock(0);
  PartitionedLogOptions o = RetentionOptions(TestDir(), &clock);
  auto log = OpenOrDie(o);
  const PartitionId p(0);
  EXPECT_EQ(*log->OffsetForTime(p, 5), Offset(0));  // empty: the high watermark
  AppendTimed(*log, 1, 60);                         // offset i-1 has timestamp 1000 i
  // A late record (older timestamp) does not move log time backwards.
  AppendOrDie(*log, p, MakeRecord("t", "late", 3000));  // offset 59
  AppendTimed(*log, 61, 70);                            // offsets 60..68
  EXPECT_EQ(*log->OffsetForTime(p, 0), Offset(0));
  EXPECT_EQ(*log->OffsetForTime(p, 1000), Offset(0));
  EXPECT_EQ(*log->OffsetForTime(p, 1001), Offset(1));
  EXPECT_EQ(*log->OffsetForTime(p, 25'000), Offset(24));
  EXPECT_EQ(*log->OffsetForTime(p, 25'500), Offset(25));
  EXPECT_EQ(*log->OffsetForTime(p, 59'000), Offset(58));
  EXPECT_EQ(*log->OffsetForTime(p, 59'001), Offset(60));  // skips the late record
  EXPECT_EQ(*log->OffsetForTime(p, 69'000), Offset(68));
  EXPECT_EQ(*log->OffsetForTime(p, 69'001), Offset(69));  // after everything
  // After retention the answer is never before the log start.
  o.retention.retention_ms = 40'000;
  log.reset();
  log = OpenOrDie(o);
  clock.SetMs(70'000);
  EXPECT_EQ(*log->EnforceRetention(), 1);
  const Offset start = log->Info(p)->log_start;
  EXPECT_EQ(start, Offset(20));
  EXPECT_EQ(*log->OffsetForTime(p, 0), start);
  EXPECT_EQ(*log->OffsetForTime(p, 25'000), Offset(24));
}

}  // namespace
}  // namespace sluice::storage
