// The log simulator in the default test suite: a bounded number of seeds with 3 and 5
// replicas (about a minute on 2 cores), a replay check (one seed twice gives the same trace),
// and proof that the runs did the work the checkers are meant to judge.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "base/log.h"
#include "gtest/gtest.h"
#include "tests/sim/log_sim.h"

namespace sluice::sim {
namespace {

volatile uint64_t g_seed = 0;
volatile int g_nodes = 0;

// A CHECK failure in the code under test aborts: name the seed before dying.
void OnAbort(int) {
  char buf[128];
  int n = snprintf(buf, sizeof(buf), "\nlog_sim_test: crashed in seed=%llu (replay: log_sim "
                   "--seed=%llu --nodes=%d)\n", (unsigned long long)g_seed,
                   (unsigned long long)g_seed, (int)g_nodes);
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
}

void RunSeeds(int nodes, uint64_t first, uint64_t count) {
  log::SetLevel(log::Level::kError);
  signal(SIGABRT, OnAbort);
  LogSimStats total;
  for (uint64_t s = first; s < first + count; ++s) {
    g_seed = s;
    g_nodes = nodes;
    LogSimOptions o;
    o.nodes = nodes;
    LogSimStats st;
    absl::Status result = RunLogSeed(s, o, &st);
    ASSERT_TRUE(result.ok()) << result.message() << "\n  replay: log_sim --seed=" << s
                             << " --nodes=" << nodes;
    total.appends_acked += st.appends_acked;
    total.appends_unknown += st.appends_unknown;
    total.qos2_releases_acked += st.qos2_releases_acked;
    total.retained_records += st.retained_records;
    total.cursor_commits_acked += st.cursor_commits_acked;
    total.state_writes_acked += st.state_writes_acked;
    total.power_losses += st.power_losses;
    total.unsynced_bytes_dropped += st.unsynced_bytes_dropped;
    total.partitions += st.partitions;
    total.convergences += st.convergences;
    total.records_verified += st.records_verified;
  }
  const int64_t n = static_cast<int64_t>(count);
  EXPECT_GT(total.appends_acked, n * 100);
  EXPECT_GT(total.appends_unknown, 0);   // faults hit appends in flight
  EXPECT_GT(total.qos2_releases_acked, n);
  EXPECT_GT(total.retained_records, n);
  EXPECT_GT(total.cursor_commits_acked, n);
  EXPECT_GT(total.state_writes_acked, n);
  EXPECT_GT(total.power_losses, 0);
  EXPECT_GT(total.unsynced_bytes_dropped, 0);  // the power losses really dropped data
  EXPECT_GT(total.partitions, n);
  EXPECT_EQ(total.convergences, n * LogSimOptions().rounds);
  EXPECT_GT(total.records_verified, total.appends_acked);  // replicas were read
}

TEST(LogSim, ThreeNodes) { RunSeeds(3, 1, 80); }
TEST(LogSim, FiveNodes) { RunSeeds(5, 1, 50); }

TEST(LogSim, ASeedReplaysExactly) {
  log::SetLevel(log::Level::kError);
  LogSimOptions o;
  LogSimStats a, b;
  ASSERT_TRUE(RunLogSeed(42, o, &a).ok());
  ASSERT_TRUE(RunLogSeed(42, o, &b).ok());
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.appends_acked, b.appends_acked);
  EXPECT_EQ(a.leaders_elected, b.leaders_elected);
  LogSimStats c;
  ASSERT_TRUE(RunLogSeed(43, o, &c).ok());
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

}  // namespace
}  // namespace sluice::sim
