#include "cluster/raft/storage.h"

#include "base/check.h"

#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{Term(term), LogIndex(index), EntryType::kNormal, std::move(data)};
}

MemoryStorage WithEntries(std::vector<Entry> ents) {
  // Start from a snapshot at ents[0] so that index becomes the dummy entry.
  MemoryStorage s;
  Snapshot snap;
  snap.metadata.index = ents[0].index;
  snap.metadata.term = ents[0].term;
  if (snap.metadata.index > LogIndex(0)) SLUICE_CHECK_OK(s.ApplySnapshot(snap));
  ents.erase(ents.begin());
  s.Append(ents);
  return s;
}

TEST(MemoryStorage, TermAtBounds) {
  MemoryStorage s = WithEntries({E(3, 3), E(4, 4), E(5, 5)});
  EXPECT_TRUE(IsLogCompacted(s.TermAt(LogIndex(2)).status()));
  EXPECT_EQ(*s.TermAt(LogIndex(3)), Term(3));
  EXPECT_EQ(*s.TermAt(LogIndex(5)), Term(5));
  EXPECT_TRUE(IsEntryUnavailable(s.TermAt(LogIndex(6)).status()));
  EXPECT_EQ(*s.FirstIndex(), LogIndex(4));
  EXPECT_EQ(*s.LastIndex(), LogIndex(5));
}

TEST(MemoryStorage, EntriesRespectsSizeButReturnsOne) {
  MemoryStorage s = WithEntries({E(3, 3), E(4, 4, "aaaa"), E(5, 5, "bbbb"), E(6, 6, "cccc")});
  EXPECT_TRUE(IsLogCompacted(s.Entries(LogIndex(3), LogIndex(5), kNoLimit).status()));
  EXPECT_EQ(s.Entries(LogIndex(4), LogIndex(7), kNoLimit)->size(), 3u);
  EXPECT_EQ(s.Entries(LogIndex(4), LogIndex(7), 0)->size(), 1u);
  const uint64_t two = 2 * EntrySizeBytes(E(4, 4, "aaaa"));
  EXPECT_EQ(s.Entries(LogIndex(4), LogIndex(7), two)->size(), 2u);
}

TEST(MemoryStorage, AppendTruncatesConflictsAndIgnoresCompacted) {
  MemoryStorage s = WithEntries({E(3, 3), E(4, 4), E(5, 5)});
  s.Append({E(4, 6), E(5, 6)});
  EXPECT_EQ(*s.TermAt(LogIndex(4)), Term(6));
  s.Append({E(2, 3), E(3, 3), E(4, 6), E(5, 6), E(6, 6)});
  EXPECT_EQ(*s.LastIndex(), LogIndex(6));
  s.Append({E(7, 7)});
  EXPECT_EQ(*s.LastIndex(), LogIndex(7));
  EXPECT_DEATH(s.Append({E(9, 7)}), "missing log entries");
}

TEST(MemoryStorage, CompactAndSnapshot) {
  MemoryStorage s = WithEntries({E(3, 3), E(4, 4), E(5, 5), E(6, 6)});
  EXPECT_TRUE(IsLogCompacted(s.Compact(LogIndex(3))));
  ASSERT_TRUE(s.Compact(LogIndex(4)).ok());
  EXPECT_EQ(*s.FirstIndex(), LogIndex(5));
  EXPECT_EQ(*s.TermAt(LogIndex(4)), Term(4));

  ConfState cs{{NodeId(1), NodeId(2)}, {}};
  absl::StatusOr<Snapshot> snap = s.CreateSnapshot(LogIndex(5), cs, "state");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.term, Term(5));
  EXPECT_EQ(snap->metadata.conf_state, cs);
  EXPECT_TRUE(IsSnapshotOutOfDate(s.CreateSnapshot(LogIndex(5), cs, "").status()));

  MemoryStorage other;
  ASSERT_TRUE(other.ApplySnapshot(*snap).ok());
  EXPECT_EQ(*other.FirstIndex(), LogIndex(6));
  EXPECT_EQ(*other.LastIndex(), LogIndex(5));
  EXPECT_EQ(other.InitialState()->conf_state, cs);
  EXPECT_TRUE(IsSnapshotOutOfDate(other.ApplySnapshot(*snap)));
}

}  // namespace
}  // namespace sluice::raft
