// QoS 2 dedup entries and retained messages kept in the partitions' applied state, on real
// RocksDB directories in TEST_TMPDIR: written in the record's batch, released by a Raft
// command, surviving restarts, Raft log compaction, a records database that lost its unsynced
// writes, and retention. (The SIGKILL variant is in crash_test.cc.)
#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "base/status.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/file_system.h"
#include "storage/log/keys.h"
#include "storage/log/partitioned_log.h"
#include "storage/testing/fault_injection_env.h"
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

absl::StatusOr<Offset> AppendQos2(PartitionedLog& log, PartitionId p, const Record& r,
                                  uint16_t packet_id) {
  auto done = std::make_shared<std::promise<absl::StatusOr<Offset>>>();
  auto f = done->get_future();
  log.Append(p, r, packet_id, [done](absl::StatusOr<Offset> o) { done->set_value(std::move(o)); });
  return f.get();
}

Record FromPublisher(std::string topic, std::string payload, std::string publisher) {
  Record r = MakeRecord(std::move(topic), std::move(payload));
  r.qos = 2;
  r.publisher = std::move(publisher);
  return r;
}

Record Retained(std::string topic, std::string payload, int64_t ts_ms = 0) {
  Record r = MakeRecord(std::move(topic), std::move(payload), ts_ms);
  r.retain = true;
  return r;
}

// The partition of a 'r' p(4) offset(8) key.
uint32_t KeyPartition(std::string_view k) {
  uint32_t p = 0;
  for (int i = 1; i <= 4; ++i) p = (p << 8) | static_cast<uint8_t>(k[i]);
  return p;
}

// (partition, publisher, packet id) -> offset
using Pending = std::map<std::tuple<uint32_t, std::string, uint16_t>, uint64_t>;

Pending PendingOf(const PartitionedLog& log) {
  Pending out;
  for (const PendingQos2& q : ValueOrDie(log.ListPendingQos2())) {
    EXPECT_TRUE(out.emplace(std::make_tuple(q.partition.value(), q.publisher, q.packet_id),
                            q.offset.value())
                    .second);
  }
  return out;
}

// topic -> (offset, payload); also checks that ListRetained is sorted by topic.
std::map<std::string, std::pair<uint64_t, std::string>> RetainedOf(const PartitionedLog& log) {
  std::map<std::string, std::pair<uint64_t, std::string>> out;
  std::string last;
  for (const StoredRecord& r : ValueOrDie(log.ListRetained())) {
    EXPECT_LT(last, r.record.topic);
    last = r.record.topic;
    EXPECT_TRUE(r.record.retain);
    out[r.record.topic] = {r.offset.value(), r.record.payload};
  }
  return out;
}

TEST(Qos2Test, EntryStoredWithRecordReleasedAndSurvivesReopen) {
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.snapshot_interval_entries = 8;  // replay crosses snapshots and Raft log compaction
  o.compaction_lag_entries = 2;
  Pending expect;
  {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_TRUE(ValueOrDie(log->ListPendingQos2()).empty());
    for (uint16_t id = 1; id <= 20; ++id) {
      const PartitionId p(id % 2);
      const std::string publisher = id % 3 == 0 ? "dev-b" : "dev-a";
      absl::StatusOr<Offset> off = AppendQos2(*log, p, FromPublisher("t", "m", publisher), id);
      ASSERT_TRUE(off.ok()) << off.status();
      expect[{p.value(), publisher, id}] = off->value();
      // The entry is readable as soon as the append completed, and points at the record.
      absl::StatusOr<std::vector<StoredRecord>> rec = log->Read(p, *off, 1);
      ASSERT_TRUE(rec.ok() && rec->size() == 1);
      EXPECT_EQ(rec->front().record.publisher, publisher);
    }
    // A plain append (packet id 0) stores no entry.
    ASSERT_TRUE(log->Append(PartitionId(0), FromPublisher("t", "q1", "dev-a")).get().ok());
    EXPECT_EQ(PendingOf(*log), expect);

    // Same packet id reused by the same publisher after a release (MQTT allows it): the entry
    // points at the new record. Another publisher's id 2 is a different entry.
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(0), "dev-a", 2).ok());
    expect.erase({0, "dev-a", 2});
    EXPECT_EQ(PendingOf(*log), expect);
    absl::StatusOr<Offset> again =
        AppendQos2(*log, PartitionId(0), FromPublisher("t", "m", "dev-a"), 2);
    ASSERT_TRUE(again.ok());
    expect[{0, "dev-a", 2}] = again->value();
    absl::StatusOr<Offset> other =
        AppendQos2(*log, PartitionId(0), FromPublisher("t", "m", "dev-c"), 2);
    ASSERT_TRUE(other.ok());
    expect[{0, "dev-c", 2}] = other->value();

    // Release: wrong partition or publisher is a no-op (PUBREL may be resent after a restart).
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(1), "dev-a", 2).ok());
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(0), "dev-x", 2).ok());
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(1), "dev-a", 1).ok());
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(1), "dev-a", 1).ok());  // twice: still OK
    expect.erase({1, "dev-a", 1});
    std::promise<absl::Status> released;
    log->ReleaseQos2(PartitionId(1), "dev-b", 3, [&](absl::Status s) {
      // Done means applied: the entry is gone already.
      for (const PendingQos2& q : ValueOrDie(log->ListPendingQos2())) {
        EXPECT_FALSE(q.publisher == "dev-b" && q.packet_id == 3);
      }
      released.set_value(s);
    });
    ASSERT_TRUE(released.get_future().get().ok());
    expect.erase({1, "dev-b", 3});
    EXPECT_EQ(PendingOf(*log), expect);

    EXPECT_EQ(log->ReleaseQos2(PartitionId(0), "dev-a", 0).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(log->ReleaseQos2(PartitionId(2), "dev-a", 1).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(AppendQos2(*log, PartitionId(2), FromPublisher("t", "m", "dev-a"), 1).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_GT(log->raft_stats().snapshots_taken, 0u);
  }
  {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_EQ(PendingOf(*log), expect);
    ASSERT_TRUE(log->ReleaseQos2(PartitionId(0), "dev-c", 2).ok());
    expect.erase({0, "dev-c", 2});
  }
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(PendingOf(*log), expect);
}

// The database loses its unsynced writes (power loss): the applies written after the last
// synced Raft write. The Raft log replays them. In the damaged database itself, before any
// replay, a QoS 2 entry is never there without its record (same write as the partition's
// meta, whose high watermark covers it), and what the synced Raft log holds is all there.
// Round 1 starts from a clean reopen.
TEST(Qos2Test, EntriesAndRetainedComeBackAfterTheDatabaseLosesUnsyncedWrites) {
  auto fs = std::make_shared<testing::FaultInjectionFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = testing::NewFaultInjectionEnv(fs);
  const std::string dir = TestDir();
  PartitionedLogOptions o = TestOptions(dir, 2);
  o.env = env.get();
  o.snapshot_interval_entries = 30;  // snapshots and Raft compaction happen mid-test
  o.compaction_lag_entries = 5;
  Pending expect;
  std::map<std::string, std::pair<uint64_t, std::string>> retained;
  for (int round = 0; round < 2; ++round) {
    {
      auto log = OpenOrDie(o);
      ASSERT_TRUE(log);
      for (int i = 0; i < 50; ++i) {
        const uint16_t id = static_cast<uint16_t>(round * 100 + i + 1);
        Record r = FromPublisher("r/" + std::to_string(i % 5), std::to_string(id), "dev");
        r.retain = true;
        const PartitionId p = log->PartitionFor(r.topic);
        absl::StatusOr<Offset> off = AppendQos2(*log, p, r, id);
        ASSERT_TRUE(off.ok()) << off.status();
        expect[{p.value(), "dev", id}] = off->value();
        retained[r.topic] = {off->value(), r.payload};
      }
      fs->Crash();
    }
    EXPECT_GT(fs->DropUnsyncedData(), 0u);

    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir + "/raft", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::map<uint32_t, uint64_t> next;  // per partition, from its meta
    std::set<std::pair<uint32_t, uint64_t>> entries;
    {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string_view k(it->key().data(), it->key().size());
        const std::string_view v(it->value().data(), it->value().size());
        if (k[0] == 'm') {
          absl::StatusOr<PartitionMeta> m = DecodeMeta(v);
          ASSERT_TRUE(m.ok());
          next[KeyPartition(k)] = m->next.value();
        } else if (k[0] == kQos2Prefix) {
          absl::StatusOr<Qos2KeyFields> f = DecodeQos2Key(k);
          ASSERT_TRUE(f.ok());
          entries.emplace(f->partition.value(), GetFixed64(v.substr(0, 8)));
        }
      }
      ASSERT_TRUE(it->status().ok());
    }
    for (const auto& [p, offset] : entries) {
      EXPECT_LT(offset, next[p]) << "a QoS 2 entry durable without its record, partition " << p;
    }
    db.reset();
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_EQ(PendingOf(*log), expect);
    EXPECT_EQ(RetainedOf(*log), retained);
  }
}

TEST(RetainedTest, SetReplaceClearSurviveReopenAndRetention) {
  ManualClock clock(1'000'000);
  PartitionedLogOptions o = TestOptions(TestDir(), 4);
  o.clock = &clock;
  o.index_interval_records = 2;  // small blocks: retention can delete every record
  o.retention.retention_ms = 60'000;
  std::map<std::string, std::pair<uint64_t, std::string>> expect;
  auto append = [&](PartitionedLog& log, const Record& r) {
    absl::StatusOr<Offset> off = log.Append(log.PartitionFor(r.topic), r).get();
    EXPECT_TRUE(off.ok()) << off.status();
    return off.ok() ? off->value() : ~0ull;
  };
  {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_TRUE(ValueOrDie(log->ListRetained()).empty());
    expect["a/1"] = {append(*log, Retained("a/1", "v1")), "v1"};
    expect["b/2"] = {append(*log, Retained("b/2", "x")), "x"};
    append(*log, Retained("c/3", "y"));
    append(*log, MakeRecord("d/4", "not retained"));
    EXPECT_EQ(RetainedOf(*log).size(), 3u);
    append(*log, Retained("c/3", ""));                        // cleared
    append(*log, Retained("e/5", ""));                        // clearing nothing
    expect["a/1"] = {append(*log, Retained("a/1", "v2")), "v2"};  // replaced
    append(*log, MakeRecord("a/1", "live, not retained"));   // keeps v2
    EXPECT_EQ(RetainedOf(*log), expect);
    // The stored record is complete: every field, as appended (timestamp = the clock).
    for (const StoredRecord& r : ValueOrDie(log->ListRetained())) {
      if (r.record.topic != "a/1") continue;
      Record want = Retained("a/1", "v2");
      want.timestamp_ms = 1'000'000;
      EXPECT_EQ(r.record, want);
    }
  }
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(RetainedOf(*log), expect);

  // Every record expires; the retained messages stay, with the offsets their records had.
  clock.SetMs(2'000'000);
  ASSERT_TRUE(log->EnforceRetention().ok());
  for (uint32_t p = 0; p < log->partitions(); ++p) {
    const PartitionInfo info = *log->Info(PartitionId(p));
    EXPECT_EQ(info.log_start, info.high_watermark) << p;
  }
  const uint64_t a_offset = expect["a/1"].first;
  EXPECT_EQ(log->Read(log->PartitionFor("a/1"), Offset(a_offset), 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(RetainedOf(*log), expect);
  // Clearing after the record is gone works too.
  append(*log, Retained("b/2", ""));
  expect.erase("b/2");
  log.reset();
  log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(RetainedOf(*log), expect);
}

}  // namespace
}  // namespace sluice::storage
