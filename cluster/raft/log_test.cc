#include "cluster/raft/log.h"

#include "gtest/gtest.h"

namespace sluice::raft {
namespace {

Entry E(uint64_t index, uint64_t term) { return Entry{Term(term), LogIndex(index), {}, {}}; }
LogIndex I(uint64_t i) { return LogIndex(i); }
Term T(uint64_t t) { return Term(t); }

TEST(RaftLog, FindConflict) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  EXPECT_EQ(log.FindConflict({}), I(0));
  EXPECT_EQ(log.FindConflict({E(1, 1), E(2, 2)}), I(0));
  EXPECT_EQ(log.FindConflict({E(2, 2), E(3, 3), E(4, 4)}), I(4));  // new entries
  EXPECT_EQ(log.FindConflict({E(2, 1), E(3, 4)}), I(2));
  EXPECT_EQ(log.FindConflict({E(3, 1)}), I(3));
}

TEST(RaftLog, MaybeAppendTruncatesConflictAndCommits) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  // Mismatched previous term: rejected.
  EXPECT_FALSE(log.MaybeAppend(I(3), T(2), I(3), {E(4, 4)}).has_value());
  // Conflict at 3: truncated and replaced; commit limited to the last new entry.
  std::optional<LogIndex> last = log.MaybeAppend(I(2), T(2), I(5), {E(3, 4)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, I(3));
  EXPECT_EQ(log.LastIndex(), I(3));
  EXPECT_EQ(*log.TermAt(I(3)), T(4));
  EXPECT_EQ(log.committed(), I(3));
  // Overwriting a committed entry is a bug.
  EXPECT_DEATH(log.MaybeAppend(I(1), T(1), I(3), {E(2, 5)}), "committed");
}

TEST(RaftLog, CommitOnlyCurrentTermAndNeverBackwards) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 2)});
  EXPECT_FALSE(log.MaybeCommit(I(2), T(3)));  // entry 2 is from term 2, not 3
  EXPECT_TRUE(log.MaybeCommit(I(2), T(2)));
  EXPECT_FALSE(log.MaybeCommit(I(1), T(1)));
  EXPECT_EQ(log.committed(), I(2));
  EXPECT_DEATH(log.CommitTo(I(5)), "commit past");
}

TEST(RaftLog, IsUpToDate) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  EXPECT_TRUE(log.IsUpToDate(I(1), T(4)));   // higher last term wins
  EXPECT_FALSE(log.IsUpToDate(I(9), T(2)));  // lower last term loses however long
  EXPECT_TRUE(log.IsUpToDate(I(3), T(3)));
  EXPECT_FALSE(log.IsUpToDate(I(2), T(3)));
}

TEST(RaftLog, FindConflictByTerm) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 1), E(3, 4), E(4, 4), E(5, 5)});
  EXPECT_EQ(log.FindConflictByTerm(I(5), T(3)), std::make_pair(I(2), T(1)));
  EXPECT_EQ(log.FindConflictByTerm(I(5), T(5)), std::make_pair(I(5), T(5)));
  EXPECT_EQ(log.FindConflictByTerm(I(4), T(4)), std::make_pair(I(4), T(4)));
}

TEST(RaftLog, SliceSpansStableAndUnstable) {
  MemoryStorage s;
  s.Append({E(1, 1), E(2, 1)});
  RaftLog log(&s, kNoLimit);
  log.Append({E(3, 2), E(4, 2)});
  absl::StatusOr<std::vector<Entry>> ents = log.Slice(I(2), I(5), kNoLimit);
  ASSERT_TRUE(ents.ok());
  ASSERT_EQ(ents->size(), 3u);
  EXPECT_EQ((*ents)[0].index, I(2));
  EXPECT_EQ((*ents)[2].index, I(4));
  EXPECT_EQ(log.Slice(I(1), I(5), 0)->size(), 1u);
  log.StableTo(I(4), T(2));
  EXPECT_TRUE(log.UnstableEntries().empty());
}

TEST(RaftLog, StableToIgnoresReplacedEntries) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({E(1, 1), E(2, 1)});
  log.Append({E(2, 2)});       // replaced before the write of term-1 entry 2 completed
  log.StableTo(I(2), T(1));    // the old write completes: must not mark the new entry stable
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
}

TEST(RaftLog, RestoreFromSnapshot) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  Snapshot snap;
  snap.metadata.index = I(10);
  snap.metadata.term = T(3);
  log.Restore(snap);
  EXPECT_EQ(log.committed(), I(10));
  EXPECT_EQ(log.FirstIndex(), I(11));
  EXPECT_EQ(log.LastIndex(), I(10));
  EXPECT_EQ(*log.TermAt(I(10)), T(3));
  EXPECT_TRUE(log.HasPendingSnapshot());
  EXPECT_TRUE(IsLogCompacted(log.Slice(I(5), I(10), kNoLimit).status()));
}

}  // namespace
}  // namespace sluice::raft
