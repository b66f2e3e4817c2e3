// Layout 2 (issue 20): one database, a record written once — in its Raft entry — and read
// from there; the Raft log compacted only as retention releases records; a layout-1 log
// (dir/raft + dir/records, written by the code of commit 23b51fc: testdata/layout1, see
// storage/testing/testdata/README.md) migrated at its first open.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/storage/keys.h"
#include "base/status.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "storage/log/keys.h"
#include "storage/log/partitioned_log.h"
#include "storage/testing/log_fixture.h"

namespace sluice::storage {
namespace {

using testing::MakeRecord;
using testing::TestDir;
using testing::TestOptions;

// Every key and value of the database in dir/raft (read-only; the log must be closed).
std::map<std::string, std::string> DumpDatabase(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir + "/raft", &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, std::string> out;
  if (!s.ok()) return out;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok());
  return out;
}

// The Raft entry indexes of `group` present in a dump.
std::vector<uint64_t> EntryIndexes(const std::map<std::string, std::string>& dump, GroupId g) {
  const std::string lo = raftstore::EntryKey(g, LogIndex(0));
  const std::string prefix = lo.substr(0, raftstore::kGroupKeyBytes + 1);
  std::vector<uint64_t> out;
  for (auto it = dump.lower_bound(prefix); it != dump.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (it->first.size() == lo.size()) out.push_back(raftstore::EntryKeyIndex(it->first).value());
  }
  return out;
}

size_t Occurrences(const std::map<std::string, std::string>& dump, const std::string& needle) {
  size_t n = 0;
  for (const auto& [k, v] : dump)
    for (size_t at = v.find(needle); at != std::string::npos; at = v.find(needle, at + 1)) ++n;
  return n;
}

TEST(LayoutTest, EachRecordIsWrittenOnceInItsRaftEntry) {
  const std::string dir = TestDir();
  PartitionedLogOptions o = TestOptions(dir, 2);
  o.snapshot_interval_entries = 7;  // snapshots and compaction attempts all along
  o.compaction_lag_entries = 2;
  std::vector<std::string> payloads;
  {
    auto log = PartitionedLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 60; ++i) {
      payloads.push_back("payload-" + std::to_string(1000 + i));
      ASSERT_TRUE((*log)->Append(PartitionId(i % 2), MakeRecord("t", payloads.back())).get().ok());
    }
    Record retained = MakeRecord("r/t", "retained-payload-once");
    retained.retain = true;
    ASSERT_TRUE((*log)->Append((*log)->PartitionFor("r/t"), retained).get().ok());
  }
  const auto dump = DumpDatabase(dir);
  for (const auto& [k, v] : dump) EXPECT_NE(k[0], 'r') << "a record copied out of its entry";
  for (const std::string& p : payloads) EXPECT_EQ(Occurrences(dump, p), 1u) << p;
  // A retained message is kept apart from its record (it outlives it): two copies.
  EXPECT_EQ(Occurrences(dump, "retained-payload-once"), 2u);
  // And all of it reads back after a reopen, though snapshots were taken throughout: the Raft
  // log kept every entry holding a record.
  auto log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<std::vector<StoredRecord>> p0 = (*log)->Read(PartitionId(0), Offset(0), 100);
  ASSERT_TRUE(p0.ok()) << p0.status();
  ASSERT_GE(p0->size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ((*p0)[i].record.payload, payloads[2 * i]);
}

TEST(LayoutTest, RaftLogIsCompactedAsRetentionReleasesRecords) {
  const std::string dir = TestDir();
  ManualClock clock(1'000'000);
  PartitionedLogOptions o = TestOptions(dir, 1);
  o.clock = &clock;
  o.index_interval_records = 10;
  o.snapshot_interval_entries = 5;
  o.compaction_lag_entries = 0;
  o.retention = {60'000, 0, 0, 0};
  const GroupId g = LogState::GroupOf(PartitionId(0));
  LogIndex first_kept;
  {
    auto log = PartitionedLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 100; ++i) {
      if (i == 60) clock.AdvanceMs(120'000);  // records 0..59 are now past retention
      ASSERT_TRUE((*log)->Append(PartitionId(0), MakeRecord("t", std::to_string(i))).get().ok());
    }
    const std::vector<IndexEntry> index = (*log)->IndexForTesting(PartitionId(0));
    ASSERT_EQ(index.size(), 10u);
    EXPECT_EQ(*(*log)->EnforceRetention(), 1);
    // Whole blocks whose successor is older than the cutoff: 0..49 (block 50..59 stays until
    // the block after it, 60.., is old too; retention.h).
    EXPECT_EQ((*log)->Info(PartitionId(0))->log_start, Offset(50));
    first_kept = index[5].raft_index;
    ASSERT_GT(first_kept.value(), 0u);
    // A few more entries let the driver compact after the retention command.
    for (int i = 100; i < 110; ++i)
      ASSERT_TRUE((*log)->Append(PartitionId(0), MakeRecord("t", std::to_string(i))).get().ok());
    EXPECT_EQ((*log)->Read(PartitionId(0), Offset(49), 1).status().code(),
              absl::StatusCode::kOutOfRange);
    absl::StatusOr<std::vector<StoredRecord>> rest = (*log)->Read(PartitionId(0), Offset(50), 100);
    ASSERT_TRUE(rest.ok()) << rest.status();
    ASSERT_EQ(rest->size(), 60u);
    EXPECT_EQ(rest->front().record.payload, "50");
  }
  const std::vector<uint64_t> entries = EntryIndexes(DumpDatabase(dir), g);
  ASSERT_FALSE(entries.empty());
  // Physically gone: every entry before the one holding the new log start's record...
  EXPECT_EQ(entries.front(), first_kept.value());
  // ...and none of what is still readable.
  for (uint64_t i = first_kept.value(); i <= entries.back(); ++i)
    EXPECT_TRUE(std::binary_search(entries.begin(), entries.end(), i)) << i;
}

TEST(LayoutTest, ReadsInsideABlockAndReadingOn) {
  PartitionedLogOptions o = TestOptions(TestDir(), 1);
  o.index_interval_records = 100;
  auto log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE((*log)->Append(PartitionId(0), MakeRecord("t", std::to_string(i))).get().ok());
    if (i % 7 == 0) ASSERT_TRUE((*log)->CommitCursor(PartitionId(0), "c", Offset(i)).ok());
  }
  // A consumer reading on in small steps, across blocks and over the cursor entries.
  Offset at(0);
  while (at < Offset(250)) {
    absl::StatusOr<std::vector<StoredRecord>> r = (*log)->Read(PartitionId(0), at, 3);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->empty());
    for (const StoredRecord& s : *r) {
      ASSERT_EQ(s.offset, at);
      ASSERT_EQ(s.record.payload, std::to_string(at.value()));
      at = at.Next();
    }
  }
  // Random starts, each checked.
  for (uint64_t from : {0u, 1u, 99u, 100u, 101u, 149u, 199u, 200u, 249u}) {
    absl::StatusOr<std::vector<StoredRecord>> r = (*log)->Read(PartitionId(0), Offset(from), 2);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->empty());
    EXPECT_EQ(r->front().record.payload, std::to_string(from));
  }
  EXPECT_TRUE((*log)->Read(PartitionId(0), Offset(250), 2)->empty());
}

// ---- migration from layout 1 ------------------------------------------------------------

// The fixture's content (what make_layout1 wrote; storage/testing/testdata/README.md).
std::string FixturePayload(uint32_t p, int i) {
  return "p" + std::to_string(p) + "-" + std::to_string(i);
}
int FixtureRecords(uint32_t p) { return p == 0 ? 30 : 25; }

std::string CopyFixture() {
  const std::string dir = TestDir();
  const std::string src = std::string(std::getenv("TEST_SRCDIR")) +
                          "/sluice/storage/testing/testdata/layout1";
  std::filesystem::copy(src, dir, std::filesystem::copy_options::recursive);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    std::filesystem::permissions(e.path(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  return dir;
}

TEST(LayoutTest, MigratesALayout1Log) {
  const std::string dir = CopyFixture();
  ASSERT_TRUE(std::filesystem::exists(dir + "/records"));
  ManualClock clock(2'000'000 + 3'600'000);
  PartitionedLogOptions o = TestOptions(dir, 2);
  o.clock = &clock;
  o.index_interval_records = 4;  // as the fixture was written
  std::map<uint32_t, int> appended_after;
  for (int open = 0; open < 2; ++open) {
    auto log = PartitionedLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_FALSE(std::filesystem::exists(dir + "/records")) << "migrated, then removed";
    for (uint32_t p = 0; p < 2; ++p) {
      absl::StatusOr<std::vector<StoredRecord>> all = (*log)->Read(PartitionId(p), Offset(0), 1000);
      ASSERT_TRUE(all.ok()) << all.status();
      std::vector<std::string> got;
      for (const StoredRecord& r : *all)
        if (r.record.topic.rfind("t/", 0) == 0) got.push_back(r.record.payload);
      std::vector<std::string> want;
      for (int i = 0; i < FixtureRecords(p); ++i) want.push_back(FixturePayload(p, i));
      for (int i = 0; i < appended_after[p]; ++i) want.push_back("new-" + std::to_string(i));
      EXPECT_EQ(got, want) << "partition " << p;
      EXPECT_EQ((*all)[3].record.timestamp_ms, 1'000'030);
      EXPECT_EQ((*all)[3].record.properties, std::string("\x01\x01", 2));
    }
    // QoS 2 entries (i % 5 == 0, id 100p + i + 1; p0's id 6 released), retained (ret/b
    // cleared), cursors and the metadata state.
    std::set<std::pair<uint32_t, uint16_t>> pending;
    for (const PendingQos2& q : ValueOrDie((*log)->ListPendingQos2())) pending.emplace(q.partition.value(), q.packet_id);
    EXPECT_EQ(pending, (std::set<std::pair<uint32_t, uint16_t>>{
                           {0, 1}, {0, 11}, {0, 16}, {0, 21}, {0, 26},
                           {1, 101}, {1, 106}, {1, 111}, {1, 116}, {1, 121}}));
    std::map<std::string, std::string> retained;
    for (const StoredRecord& r : ValueOrDie((*log)->ListRetained())) retained[r.record.topic] = r.record.payload;
    EXPECT_EQ(retained, (std::map<std::string, std::string>{{"ret/a", "R-ret/a"},
                                                            {"ret/c", "R-ret/c"}}));
    EXPECT_EQ((*log)->GetCursor(PartitionId(0), "session:c1")->offset, Offset(7));
    EXPECT_EQ((*log)->GetCursor(PartitionId(1), "bridge:k")->offset, Offset(20));
    auto state = (*log)->ScanState("");
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(*state, (std::vector<std::pair<std::string, std::string>>{
                          {"k2", "v2"}, {"s/c1", "session-record"}}));
    // New records go to Raft entries, after the imported ones; one read spans both.
    for (uint32_t p = 0; p < 2; ++p) {
      for (int i = 0; i < 6; ++i) {
        Record r = MakeRecord("t/new", "new-" + std::to_string(appended_after[p]++));
        r.timestamp_ms = 3'000'000;
        ASSERT_TRUE((*log)->Append(PartitionId(p), r).get().ok());
      }
    }
  }
  // Retention by time reaches into the imported records: whole blocks go ('r' keys deleted),
  // the new records stay.
  o.retention = {3'100'000, 0, 0, 0};  // cutoff 2,500,000: the fixture's records go
  auto log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->EnforceRetention().ok());
  const Offset start = (*log)->Info(PartitionId(0))->log_start;
  EXPECT_GT(start, Offset(0));
  absl::StatusOr<std::vector<StoredRecord>> rest = (*log)->Read(PartitionId(0), start, 1000);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->back().record.payload, "new-11");
  log->reset();
  size_t r_keys = 0;
  for (const auto& [k, v] : DumpDatabase(dir)) {
    if (k[0] == 'r' && KeyOffset(k) < start && k.substr(1, 4) == std::string(4, '\0')) ++r_keys;
  }
  EXPECT_EQ(r_keys, 0u) << "imported records behind the log start are deleted";
}

}  // namespace
}  // namespace sluice::storage
