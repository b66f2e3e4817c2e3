// Runs a few hundred simulator seeds (3 and 5 nodes) as part of the default test suite.
#include "gtest/gtest.h"
#include "tests/sim/sim.h"

namespace sluice::sim {
namespace {

void RunSeeds(int nodes, uint64_t first, uint64_t count) {
  SimOptions o;
  o.nodes = nodes;
  int64_t committed = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    SimStats st;
    absl::Status result = RunSeed(s, o, &st);
    ASSERT_TRUE(result.ok()) << result.message() << "\n  replay: sim --seed=" << s
                             << " --nodes=" << nodes;
    committed += st.committed_entries;
  }
  EXPECT_GT(committed, static_cast<int64_t>(count) * 10);  // the runs did real work
}

TEST(Sim, ThreeNodes) { RunSeeds(3, 1, 100); }
TEST(Sim, FiveNodes) { RunSeeds(5, 1, 100); }

}  // namespace
}  // namespace sluice::sim
