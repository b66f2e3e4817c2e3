// Simulator driver: sim --seed=N replays one seed; sim --seeds=N runs seeds 1..N (or from
// --first_seed). --nodes=3|5, --rounds, --chaos_ms, --verbose. Exit code 1 on any failure;
// every failure prints its seed. A CHECK crash inside Raft prints the seed from a signal handler.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>

#include "base/clock.h"
#include "tests/sim/sim.h"

namespace {

volatile uint64_t g_seed = 0;

void OnAbort(int) {
  char buf[96];
  int n = snprintf(buf, sizeof(buf), "\nsim: crashed while running seed=%llu (replay with --seed=%llu)\n",
                   (unsigned long long)g_seed, (unsigned long long)g_seed);
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
}

bool Flag(const char* arg, const char* name, long long* out) {
  const size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || arg[len] != '=') return false;
  *out = atoll(arg + len + 1);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long long seed = -1, seeds = 100, first = 1, nodes = 0, rounds = -1, chaos_ms = -1, verbose = 0;
  for (int i = 1; i < argc; ++i) {
    if (Flag(argv[i], "--seed", &seed) || Flag(argv[i], "--seeds", &seeds) ||
        Flag(argv[i], "--first_seed", &first) || Flag(argv[i], "--nodes", &nodes) ||
        Flag(argv[i], "--rounds", &rounds) || Flag(argv[i], "--chaos_ms", &chaos_ms) ||
        Flag(argv[i], "--verbose", &verbose)) {
      continue;
    }
    fprintf(stderr, "unknown flag %s\n", argv[i]);
    return 2;
  }
  signal(SIGABRT, OnAbort);
  const int64_t start_ms = sluice::SystemClock::Get()->NowMs();
  long long lo = seed >= 0 ? seed : first, hi = seed >= 0 ? seed : first + seeds - 1;
  long long failures = 0, runs = 0;
  sluice::sim::SimStats total;
  for (long long s = lo; s <= hi; ++s) {
    // Without --nodes, alternate 3 and 5 nodes by seed.
    sluice::sim::SimOptions o;
    o.nodes = nodes > 0 ? static_cast<int>(nodes) : (s % 2 ? 3 : 5);
    if (rounds > 0) o.rounds = static_cast<int>(rounds);
    if (chaos_ms > 0) o.chaos_ms = chaos_ms;
    o.verbose = verbose != 0;
    g_seed = static_cast<uint64_t>(s);
    sluice::sim::SimStats st;
    absl::Status result = sluice::sim::RunSeed(static_cast<uint64_t>(s), o, &st);
    ++runs;
    total.committed_entries += st.committed_entries;
    total.leaders_elected += st.leaders_elected;
    total.crashes += st.crashes;
    total.messages_delivered += st.messages_delivered;
    total.snapshots_installed += st.snapshots_installed;
    total.max_recovery_ms = std::max(total.max_recovery_ms, st.max_recovery_ms);
    total.conf_changes += st.conf_changes;
    total.nodes_removed += st.nodes_removed;
    total.leaders_removed += st.leaders_removed;
    total.promotions_refused += st.promotions_refused;
    total.transfers_requested += st.transfers_requested;
    total.reads_served += st.reads_served;
    total.step_errors_expected += st.step_errors_expected;
    if (!result.ok()) {
      ++failures;
      fprintf(stderr, "FAIL nodes=%d %s\n  replay: sim --seed=%lld --nodes=%d\n", o.nodes,
              std::string(result.message()).c_str(), s, o.nodes);
    }
  }
  const int64_t wall_ms = sluice::SystemClock::Get()->NowMs() - start_ms;
  printf("sim: %lld seeds, %lld failed, %lld ms wall; committed=%lld leaders=%lld crashes=%lld "
         "delivered=%lld snapshots=%lld max_recovery_ms=%lld\n",
         runs, failures, (long long)wall_ms, (long long)total.committed_entries,
         (long long)total.leaders_elected, (long long)total.crashes,
         (long long)total.messages_delivered, (long long)total.snapshots_installed,
         (long long)total.max_recovery_ms);
  printf("sim: conf_changes=%lld removed=%lld leaders_removed=%lld promotions_refused=%lld "
         "transfers=%lld reads_served=%lld step_errors_expected=%lld\n",
         (long long)total.conf_changes, (long long)total.nodes_removed,
         (long long)total.leaders_removed, (long long)total.promotions_refused,
         (long long)total.transfers_requested, (long long)total.reads_served,
         (long long)total.step_errors_expected);
  return failures ? 1 : 0;
}
