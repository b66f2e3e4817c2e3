// The metadata key-value store (its own Raft group in the log's MultiRaft driver) on real
// RocksDB directories in TEST_TMPDIR: put/delete/scan, restarts after Raft log compaction, a
// records database that lost its unsynced writes, and logs created before the group existed.
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/storage/keys.h"
#include "cluster/storage/rocksdb_log_store.h"
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
using Kv = std::map<std::string, std::string>;

std::unique_ptr<PartitionedLog> OpenOrDie(const PartitionedLogOptions& o) {
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

Kv Scan(const PartitionedLog& log, std::string_view prefix) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> r = log.ScanState(prefix);
  EXPECT_TRUE(r.ok()) << r.status();
  Kv out;
  std::string last;
  for (auto& [k, v] : r.ok() ? *r : std::vector<std::pair<std::string, std::string>>{}) {
    EXPECT_TRUE(out.empty() || last < k) << "not sorted by key";
    last = k;
    out[k] = v;
  }
  return out;
}

Kv WithPrefix(const Kv& all, std::string_view prefix) {
  Kv out;
  for (const auto& [k, v] : all) {
    if (std::string_view(k).substr(0, prefix.size()) == prefix) out[k] = v;
  }
  return out;
}

TEST(MetadataStateTest, PutDeleteScanSurviveReopenAfterRaftCompaction) {
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.snapshot_interval_entries = 10;  // the metadata group snapshots and compacts its Raft log
  o.compaction_lag_entries = 2;
  Kv expect;
  for (int round = 0; round < 3; ++round) {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_EQ(Scan(*log, ""), expect);
    for (int i = 0; i < 30; ++i) {
      const std::string key = (i % 2 ? "session/" : "sub/") + std::to_string(round * 100 + i);
      const std::string value = "v" + std::to_string(i) + std::string(1, '\0');
      ASSERT_TRUE(log->PutState(key, value).ok());
      expect[key] = value;
      if (i % 5 == 4) {  // delete one, overwrite another
        ASSERT_TRUE(log->DeleteState(key).ok());
        expect.erase(key);
        ASSERT_TRUE(log->PutState(expect.begin()->first, "over" + std::to_string(round)).ok());
        expect.begin()->second = "over" + std::to_string(round);
      }
    }
    ASSERT_TRUE(log->DeleteState("never/there").ok());
    // Partition traffic in the same driver does not disturb it.
    ASSERT_TRUE(log->Append(PartitionId(1), MakeRecord("t", "x")).get().ok());
    EXPECT_EQ(Scan(*log, ""), expect);
    EXPECT_EQ(Scan(*log, "session/"), WithPrefix(expect, "session/"));
    EXPECT_EQ(Scan(*log, "sub/1"), WithPrefix(expect, "sub/1"));
    EXPECT_TRUE(Scan(*log, "zzz").empty());
    EXPECT_GT(log->raft_stats().snapshots_taken, 0u);
  }
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(Scan(*log, ""), expect);
  EXPECT_EQ(log->Info(PartitionId(1))->high_watermark, Offset(3));
}

TEST(MetadataStateTest, DoneMeansAppliedAndLimits) {
  auto log = OpenOrDie(TestOptions(TestDir(), 1));
  ASSERT_TRUE(log);
  std::promise<Kv> seen;
  log->PutState("a/b", "1", [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    seen.set_value(Scan(*log, "a/"));  // on the driver thread, right after the apply
  });
  EXPECT_EQ(seen.get_future().get(), (Kv{{"a/b", "1"}}));

  // Prefix scans at byte boundaries: 0xff in the prefix and just past it.
  ASSERT_TRUE(log->PutState(std::string("p\xff", 2), "x").ok());
  ASSERT_TRUE(log->PutState(std::string("p\xff\xff", 3), "y").ok());
  ASSERT_TRUE(log->PutState("q", "z").ok());
  EXPECT_EQ(Scan(*log, std::string("p\xff", 2)).size(), 2u);
  EXPECT_EQ(Scan(*log, "p").size(), 2u);
  EXPECT_EQ(PrefixSuccessor(std::string("p\xff", 2)), "q");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff", 1)), "");

  const PartitionedLogOptions& o = log->options();
  EXPECT_EQ(log->PutState("", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->DeleteState("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->PutState(std::string(o.state_key_bytes_max + 1, 'k'), "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->DeleteState(std::string(o.state_key_bytes_max + 1, 'k')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->PutState("k", std::string(o.record_bytes_max + 1, 'v')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(log->PutState(std::string(o.state_key_bytes_max, 'k'), "v").ok());
  EXPECT_EQ(Scan(*log, "kkk").size(), 1u);
}

TEST(MetadataStateTest, ComesBackAfterTheDatabaseLosesUnsyncedWrites) {
  auto fs = std::make_shared<testing::FaultInjectionFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = testing::NewFaultInjectionEnv(fs);
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.env = env.get();
  o.snapshot_interval_entries = 25;
  o.compaction_lag_entries = 5;
  Kv expect;
  for (int round = 0; round < 3; ++round) {
    {
      auto log = OpenOrDie(o);
      ASSERT_TRUE(log);
      EXPECT_EQ(Scan(*log, ""), expect);
      for (int i = 0; i < 40; ++i) {
        const std::string key = "k" + std::to_string(i % 17);
        if (i % 7 == 6) {
          ASSERT_TRUE(log->DeleteState(key).ok());
          expect.erase(key);
        } else {
          ASSERT_TRUE(log->PutState(key, std::to_string(round * 100 + i)).ok());
          expect[key] = std::to_string(round * 100 + i);
        }
      }
      fs->Crash();
    }
    EXPECT_GT(fs->DropUnsyncedData(), 0u);
  }
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(Scan(*log, ""), expect);
}

// A log written before the metadata group existed: its Raft database has only partition
// groups and its records database no 'K'/'k' keys. Made here from a new log by removing the
// group's keys (cluster/storage/keys.h layout), which leaves exactly what the old code wrote.
TEST(MetadataStateTest, LogCreatedBeforeTheMetadataGroupOpens) {
  const std::string dir = TestDir();
  PartitionedLogOptions o = TestOptions(dir, 2);
  {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(log->Append(PartitionId(i % 2), MakeRecord("t", std::to_string(i))).get().ok());
    }
    ASSERT_TRUE(log->CommitCursor(PartitionId(0), "c", Offset(3)).ok());
  }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir + "/raft", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const GroupId g = LogState::kMetadataGroup;
    std::string lo(1, raftstore::kGroupPrefix), hi(1, raftstore::kGroupPrefix);
    raftstore::PutFixed64BE(lo, g.value());
    raftstore::PutFixed64BE(hi, g.value() + 1);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Delete(wo, raftstore::RegistryKey(g)).ok());
    ASSERT_TRUE(db->DeleteRange(wo, db->DefaultColumnFamily(), lo, hi).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    absl::StatusOr<std::unique_ptr<raftstore::RocksDbLogStore>> store =
        raftstore::RocksDbLogStore::Open(dir + "/raft");
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*(*store)->ListGroups(), (std::vector<GroupId>{GroupId(1), GroupId(2)}));
  }
  {
    auto log = OpenOrDie(o);
    ASSERT_TRUE(log);
    EXPECT_TRUE(Scan(*log, "").empty());
    EXPECT_EQ(log->Read(PartitionId(1), Offset(0), 100)->size(), 5u);
    EXPECT_EQ(log->GetCursor(PartitionId(0), "c")->offset, Offset(3));
    ASSERT_TRUE(log->PutState("cluster/id", "abc").ok());
    ASSERT_TRUE(log->Append(PartitionId(0), MakeRecord("t", "after")).get().ok());
  }
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(Scan(*log, ""), (Kv{{"cluster/id", "abc"}}));
  EXPECT_EQ(log->Info(PartitionId(0))->high_watermark, Offset(6));
}

}  // namespace
}  // namespace sluice::storage
