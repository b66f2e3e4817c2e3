// Runs a few hundred simulator seeds (3 and 5 nodes) as part of the default test suite.
#include "gtest/gtest.h"
#include "tests/sim/sim.h"

namespace sluice::sim {
namespace {

void RunSeeds(int nodes, uint64_t first, uint64_t count) {
  SimOptions o;
  o.nodes = nodes;
  int64_t committed = 0;
  SimStats total;
  for (uint64_t s = first; s < first + count; ++s) {
    SimStats st;
    absl::Status result = RunSeed(s, o, &st);
    ASSERT_TRUE(result.ok()) << result.message() << "\n  replay: sim --seed=" << s
                             << " --nodes=" << nodes;
    committed += st.committed_entries;
    total.conf_changes += st.conf_changes;
    total.leaders_removed += st.leaders_removed;
    total.promotions_refused += st.promotions_refused;
    total.reads_served += st.reads_served;
    total.step_errors_expected += st.step_errors_expected;
  }
  EXPECT_GT(committed, static_cast<int64_t>(count) * 10);  // the runs did real work
  // ... and exercised the client operations, not just proposals.
  EXPECT_GT(total.conf_changes, static_cast<int64_t>(count));
  EXPECT_GT(total.leaders_removed, 0);
  EXPECT_GT(total.promotions_refused, 0);
  EXPECT_GT(total.reads_served, static_cast<int64_t>(count) * 10);
  // Forwarded requests refused by a node that no longer leads do occur (and are tolerated).
  EXPECT_GT(total.step_errors_expected, 0);
}

TEST(Sim, ThreeNodes) { RunSeeds(3, 1, 150); }
TEST(Sim, FiveNodes) { RunSeeds(5, 1, 150); }

}  // namespace
}  // namespace sluice::sim
