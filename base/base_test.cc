#include <set>

#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(3).message(), "odd");
}

TEST(StrongIds, CompareAndStepWithinOneType) {
  Term a(3);
  Term b = a.Next();
  EXPECT_LT(a, b);
  EXPECT_EQ(b.value(), 4u);
  EXPECT_EQ(b.Prev(), a);
  static_assert(!std::is_convertible_v<Term, LogIndex>);
  static_assert(!std::is_convertible_v<uint64_t, Term>);
}

TEST(SeededRng, SameSeedSameSequenceDifferentSeedDiffers) {
  SeededRng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= (x != c.Next());
  }
  EXPECT_TRUE(differs);
}

TEST(SeededRng, UniformStaysInBoundsAndCoversIt) {
  SeededRng rng(7);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = rng.Uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
    int64_t r = rng.Range(-3, 3);
    ASSERT_GE(r, -3);
    ASSERT_LE(r, 3);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(100);
  EXPECT_EQ(clock.NowMs(), 100);
  clock.AdvanceMs(50);
  EXPECT_EQ(clock.NowMs(), 150);
}

TEST(Log, LevelsParseAndGate) {
  EXPECT_EQ(*log::ParseLevel("warn"), log::Level::kWarn);
  EXPECT_FALSE(log::ParseLevel("loud").ok());
  log::SetLevel(log::Level::kError);
  EXPECT_FALSE(log::Enabled(log::Level::kInfo));
  EXPECT_TRUE(log::Enabled(log::Level::kError));
  log::SetLevel(log::Level::kInfo);
  EXPECT_TRUE(log::Enabled(log::Level::kInfo));
}

}  // namespace
}  // namespace sluice
