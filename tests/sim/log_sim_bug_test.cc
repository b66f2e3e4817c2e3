// The log simulator's checkers can fail: with a bug planted in the commit log
// (base/planted_bug.h; this target links //storage/log:log_planted_bugs), a bounded run of
// seeds must fail, and say why. Without the bug the same build passes the same seeds, so the
// failures are the bug's.
#include <string>

#include "base/log.h"
#include "base/planted_bug.h"
#include "gtest/gtest.h"
#include "tests/sim/log_sim.h"

namespace sluice::sim {
namespace {

constexpr uint64_t kSeedsMax = 10;  // each bug must be caught within this many seeds

// The first failing seed's message, or "" if all kSeedsMax seeds passed.
std::string FirstFailure(PlantedBug bug, uint64_t* seed_out) {
  log::SetLevel(log::Level::kError);
  ActivePlantedBug() = bug;
  std::string failure;
  for (uint64_t seed = 1; seed <= kSeedsMax && failure.empty(); ++seed) {
    LogSimOptions o;
    o.nodes = seed % 2 ? 3 : 5;
    o.rounds = 1;
    LogSimStats stats;
    absl::Status st = RunLogSeed(seed, o, &stats);
    if (!st.ok()) {
      failure = std::string(st.message());
      *seed_out = seed;
    }
  }
  ActivePlantedBug() = PlantedBug::kNone;
  return failure;
}

TEST(LogSimPlantedBugs, AcknowledgingBeforeTheApplyIsCaught) {
  uint64_t seed = 0;
  const std::string failure = FirstFailure(PlantedBug::kAckBeforeApply, &seed);
  ASSERT_FALSE(failure.empty()) << "an early acknowledgement went unnoticed for " << kSeedsMax
                                << " seeds";
  EXPECT_NE(failure.find("ackn"), std::string::npos) << failure;
  std::printf("kAckBeforeApply caught at seed %llu: %s\n", (unsigned long long)seed,
              failure.c_str());
}

TEST(LogSimPlantedBugs, SkippedOffsetIsCaught) {
  uint64_t seed = 0;
  const std::string failure = FirstFailure(PlantedBug::kSkipOffset, &seed);
  ASSERT_FALSE(failure.empty()) << "a skipped offset went unnoticed for " << kSeedsMax
                                << " seeds";
  std::printf("kSkipOffset caught at seed %llu: %s\n", (unsigned long long)seed,
              failure.c_str());
}

TEST(LogSimPlantedBugs, WithoutABugTheSameSeedsPass) {
  uint64_t seed = 0;
  const std::string failure = FirstFailure(PlantedBug::kNone, &seed);
  EXPECT_TRUE(failure.empty()) << "seed " << seed << ": " << failure;
}

}  // namespace
}  // namespace sluice::sim
