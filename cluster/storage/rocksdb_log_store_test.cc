#include "cluster/storage/rocksdb_log_store.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/rng.h"
#include "cluster/raft/rawnode.h"
#include "gtest/gtest.h"

namespace sluice::raftstore {
namespace {

using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Snapshot;

Entry E(uint64_t term, uint64_t index, std::string data = "") {
  return Entry{sluice::Term(term), LogIndex(index), EntryType::kNormal, std::move(data)};
}

std::vector<Entry> Range(uint64_t term, uint64_t lo, uint64_t hi) {
  std::vector<Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(E(term, i, "d" + std::to_string(i)));
  return out;
}

class RocksDbLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/raftlog_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto s = RocksDbLogStore::Open(dir_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  GroupLog* Group(uint64_t g, ConfState cs = {{NodeId(1), NodeId(2), NodeId(3)}, {}}) {
    auto log = store_->OpenGroup(GroupId(g), cs);
    EXPECT_TRUE(log.ok()) << log.status();
    return *log;
  }
  void Append(GroupLog* log, std::optional<HardState> hs, std::vector<Entry> entries,
              std::optional<Snapshot> snap = std::nullopt) {
    LogWriteBatch b = store_->NewBatch();
    b.Append(log, hs, entries, snap);
    ASSERT_TRUE(b.Commit().ok());
  }

  std::string dir_;
  std::unique_ptr<RocksDbLogStore> store_;
};

// A crash image holds every committed (synced) batch; opening it recovers them from the WAL.
TEST_F(RocksDbLogStoreTest, CrashImageRecoversCommittedWrites) {
  GroupLog* log = Group(3);
  const HardState hs{sluice::Term(2), NodeId(1), LogIndex(3)};
  Append(log, hs, Range(2, 1, 4));
  const std::string image = dir_ + "_crash";
  std::filesystem::remove_all(image);
  ASSERT_TRUE(store_->CrashImageForTesting(image).ok());
  Append(log, std::nullopt, Range(2, 5, 6));  // after the "crash": not in the image
  store_.reset();
  auto s = RocksDbLogStore::Open(image);
  ASSERT_TRUE(s.ok()) << s.status();
  auto recovered = (*s)->OpenGroup(GroupId(3), ConfState{});
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*(*recovered)->LastIndex(), LogIndex(4));
  EXPECT_EQ((*recovered)->InitialState()->hard_state, hs);
}

TEST_F(RocksDbLogStoreTest, NewGroupHasBootstrapMembership) {
  GroupLog* log = Group(7);
  EXPECT_EQ(*log->FirstIndex(), LogIndex(1));
  EXPECT_EQ(*log->LastIndex(), LogIndex(0));
  EXPECT_EQ(*log->TermAt(LogIndex(0)), sluice::Term(0));
  auto st = log->InitialState();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->hard_state.IsEmpty());
  EXPECT_EQ(st->conf_state.voters.size(), 3u);
  EXPECT_TRUE(raft::IsEntryUnavailable(log->Entries(LogIndex(1), LogIndex(1), 100).status()));
}

TEST_F(RocksDbLogStoreTest, RestartRecoversHardStateAndEntries) {
  GroupLog* log = Group(1);
  const HardState hs{sluice::Term(3), NodeId(2), LogIndex(4)};
  Append(log, hs, Range(3, 1, 5));
  Reopen();
  auto groups = store_->ListGroups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0], GroupId(1));
  log = Group(1, ConfState{});  // bootstrap ignored: the group exists
  EXPECT_EQ(log->InitialState()->hard_state, hs);
  EXPECT_EQ(log->InitialState()->conf_state.voters.size(), 3u);
  EXPECT_EQ(*log->FirstIndex(), LogIndex(1));
  EXPECT_EQ(*log->LastIndex(), LogIndex(5));
  auto entries = log->Entries(LogIndex(2), LogIndex(6), raft::kNoLimit);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(*entries, Range(3, 2, 5));
  EXPECT_EQ(*log->TermAt(LogIndex(5)), sluice::Term(3));
  EXPECT_TRUE(raft::IsEntryUnavailable(log->TermAt(LogIndex(6)).status()));
}

TEST_F(RocksDbLogStoreTest, ConflictingSuffixIsTruncated) {
  GroupLog* log = Group(1);
  Append(log, std::nullopt, Range(1, 1, 10));
  // A new leader overwrites from index 4 with a shorter log.
  Append(log, std::nullopt, Range(2, 4, 6));
  EXPECT_EQ(*log->LastIndex(), LogIndex(6));
  EXPECT_EQ(*log->TermAt(LogIndex(3)), sluice::Term(1));
  EXPECT_EQ(*log->TermAt(LogIndex(4)), sluice::Term(2));
  Reopen();
  log = Group(1);
  EXPECT_EQ(*log->LastIndex(), LogIndex(6));  // 7..10 are really gone
  auto entries = log->Entries(LogIndex(1), LogIndex(7), raft::kNoLimit);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 6u);
  EXPECT_EQ((*entries)[5], E(2, 6, "d6"));
}

TEST_F(RocksDbLogStoreTest, LongTruncationUsesRangeTombstone) {
  GroupLog* log = Group(1);
  Append(log, std::nullopt, Range(1, 1, 3000));
  Append(log, std::nullopt, Range(2, 2, 2));
  EXPECT_EQ(*log->LastIndex(), LogIndex(2));
  Reopen();
  log = Group(1);
  EXPECT_EQ(*log->LastIndex(), LogIndex(2));
  EXPECT_EQ(*log->TermAt(LogIndex(2)), sluice::Term(2));
}

TEST_F(RocksDbLogStoreTest, EntriesRespectsByteLimitButReturnsOne) {
  GroupLog* log = Group(1);
  Append(log, std::nullopt, Range(1, 1, 10));
  auto one = log->Entries(LogIndex(1), LogIndex(11), 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  const uint64_t two_bytes = raft::EntrySizeBytes(E(1, 1, "d1")) * 2;
  auto two = log->Entries(LogIndex(1), LogIndex(11), two_bytes);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST_F(RocksDbLogStoreTest, SnapshotAndCompaction) {
  GroupLog* log = Group(1);
  Append(log, HardState{sluice::Term(1), NodeId(1), LogIndex(10)}, Range(1, 1, 10));
  const ConfState cs{{NodeId(1), NodeId(2)}, {NodeId(4)}};
  ASSERT_TRUE(store_->CreateSnapshot(log, LogIndex(8), cs, "image@8").ok());
  EXPECT_TRUE(raft::IsSnapshotOutOfDate(store_->CreateSnapshot(log, LogIndex(8), cs, "x")));
  ASSERT_TRUE(store_->Compact(log, LogIndex(6)).ok());
  EXPECT_TRUE(raft::IsLogCompacted(store_->Compact(log, LogIndex(6))));
  EXPECT_EQ(*log->FirstIndex(), LogIndex(7));
  EXPECT_EQ(*log->TermAt(LogIndex(6)), sluice::Term(1));
  EXPECT_TRUE(raft::IsLogCompacted(log->TermAt(LogIndex(5)).status()));
  EXPECT_TRUE(raft::IsLogCompacted(log->Entries(LogIndex(6), LogIndex(8), 100).status()));
  Reopen();
  log = Group(1);
  EXPECT_EQ(*log->FirstIndex(), LogIndex(7));
  EXPECT_EQ(*log->LastIndex(), LogIndex(10));
  auto snap = log->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.index, LogIndex(8));
  EXPECT_EQ(snap->metadata.term, sluice::Term(1));
  EXPECT_EQ(snap->metadata.conf_state, cs);
  EXPECT_EQ(snap->data, "image@8");
  EXPECT_EQ(log->InitialState()->conf_state, cs);
}

TEST_F(RocksDbLogStoreTest, InstallingASnapshotReplacesTheLog) {
  GroupLog* log = Group(1);
  Append(log, std::nullopt, Range(1, 1, 5));
  Snapshot snap;
  snap.metadata = {LogIndex(20), sluice::Term(4), ConfState{{NodeId(1)}, {}}};
  snap.data = "remote image";
  Append(log, HardState{sluice::Term(4), NodeId(0), LogIndex(20)}, Range(4, 21, 22), snap);
  EXPECT_EQ(*log->FirstIndex(), LogIndex(21));
  EXPECT_EQ(*log->LastIndex(), LogIndex(22));
  EXPECT_EQ(*log->TermAt(LogIndex(20)), sluice::Term(4));
  Reopen();
  log = Group(1);
  EXPECT_EQ(*log->FirstIndex(), LogIndex(21));
  EXPECT_EQ(*log->LastIndex(), LogIndex(22));
  EXPECT_EQ(log->GetSnapshot()->data, "remote image");
  EXPECT_TRUE(raft::IsLogCompacted(log->TermAt(LogIndex(5)).status()));
}

TEST_F(RocksDbLogStoreTest, ManyGroupsInOneBatchAreIsolated) {
  std::vector<GroupLog*> logs;
  for (uint64_t g = 1; g <= 50; ++g) logs.push_back(Group(g));
  LogWriteBatch b = store_->NewBatch();
  for (uint64_t g = 1; g <= 50; ++g) {
    b.Append(logs[g - 1], HardState{sluice::Term(g), NodeId(1), LogIndex(g)}, Range(g, 1, g));
  }
  EXPECT_EQ(b.groups(), 50u);
  ASSERT_TRUE(b.Commit().ok());
  // Truncating group 10 does not touch its neighbours.
  Append(logs[9], std::nullopt, Range(99, 1, 1));
  Reopen();
  EXPECT_EQ(store_->ListGroups()->size(), 50u);
  for (uint64_t g = 1; g <= 50; ++g) {
    GroupLog* log = Group(g);
    const uint64_t last = g == 10 ? 1 : g;
    EXPECT_EQ(*log->LastIndex(), LogIndex(last)) << g;
    EXPECT_EQ(log->hard_state().term, sluice::Term(g));
    auto e = log->Entries(LogIndex(1), LogIndex(last + 1), raft::kNoLimit);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->size(), last);
    EXPECT_EQ(e->front().term, sluice::Term(g == 10 ? 99 : g));
  }
}

TEST_F(RocksDbLogStoreTest, BatchStateInvisibleUntilCommit) {
  GroupLog* log = Group(1);
  LogWriteBatch b = store_->NewBatch();
  b.Append(log, std::nullopt, Range(1, 1, 3), std::nullopt);
  b.Append(log, std::nullopt, Range(1, 4, 5), std::nullopt);  // same group twice
  EXPECT_EQ(*log->LastIndex(), LogIndex(0));
  ASSERT_TRUE(b.Commit().ok());
  EXPECT_EQ(*log->LastIndex(), LogIndex(5));
}

// The Raft core runs on a GroupLog: a single-node group elects itself, commits, and after a
// restart recovers its term, vote and log.
TEST_F(RocksDbLogStoreTest, RawNodeRunsOnGroupLogAcrossRestart) {
  auto run = [&](int proposals) -> std::pair<sluice::Term, LogIndex> {
    GroupLog* log = Group(5, ConfState{{NodeId(1)}, {}});
    SeededRng rng(1);
    raft::Config c;
    c.id = NodeId(1);
    c.storage = log;
    c.rng = &rng;
    c.applied = log->hard_state().commit;
    auto node = raft::RawNode::Create(c);
    EXPECT_TRUE(node.ok()) << node.status();
    EXPECT_TRUE((*node)->Campaign().ok());
    auto drain = [&] {
      while ((*node)->HasReady()) {
        raft::Ready rd = (*node)->GetReady();
        LogWriteBatch b = store_->NewBatch();
        b.Append(log, rd.hard_state, rd.entries, rd.snapshot);
        EXPECT_TRUE(b.Commit().ok());
        (*node)->Advance(rd);
      }
    };
    drain();
    for (int i = 0; i < proposals; ++i) {
      EXPECT_TRUE((*node)->Propose("p" + std::to_string(i)).ok());
      drain();
    }
    return {(*node)->raft().term(), (*node)->raft().log().committed()};
  };
  auto [term1, commit1] = run(5);
  EXPECT_EQ(commit1, LogIndex(6));  // empty entry + 5
  Reopen();
  GroupLog* log = Group(5);
  EXPECT_EQ(log->hard_state().term, term1);
  EXPECT_EQ(log->hard_state().commit, commit1);
  auto [term2, commit2] = run(1);
  EXPECT_GT(term2, term1);
  EXPECT_EQ(commit2, LogIndex(8));
}

}  // namespace
}  // namespace sluice::raftstore
