// Log simulator driver: log_sim --seed=N replays one seed; log_sim --seeds=N runs seeds
// 1..N (or from --first_seed), alternating 3 and 5 nodes unless --nodes is given.
// Other flags: --partitions, --rounds, --chaos_ms, --check_every, --power_loss=0|1,
// --verbose=1. Exit code 1 on any failure; every failure prints its seed and the replay
// command. A CHECK crash inside the code under test prints the seed from a signal handler.
// The log_sim_planted_bugs binary (the commit log built with base/planted_bug.h's bugs) also
// takes --plant=ack_before_apply|skip_offset.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "base/planted_bug.h"
#include "tests/sim/log_sim.h"

namespace {

volatile uint64_t g_seed = 0;
volatile int g_nodes = 0;

void OnAbort(int) {
  char buf[128];
  int n = snprintf(buf, sizeof(buf),
                   "\nlog_sim: crashed while running seed=%llu (replay with --seed=%llu "
                   "--nodes=%d)\n",
                   (unsigned long long)g_seed, (unsigned long long)g_seed, (int)g_nodes);
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
  long long seed = -1, seeds = 20, first = 1, nodes = 0, partitions = -1, rounds = -1,
            chaos_ms = -1, check_every = -1, power_loss = 1, verbose = 0;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--plant=", 8) == 0) {
      const std::string bug = argv[i] + 8;
#if defined(SLUICE_PLANTED_BUGS)
      if (bug == "ack_before_apply") {
        sluice::ActivePlantedBug() = sluice::PlantedBug::kAckBeforeApply;
      } else if (bug == "skip_offset") {
        sluice::ActivePlantedBug() = sluice::PlantedBug::kSkipOffset;
      } else {
        fprintf(stderr, "unknown bug %s\n", bug.c_str());
        return 2;
      }
      continue;
#else
      fprintf(stderr, "--plant needs the log_sim_planted_bugs binary\n");
      return 2;
#endif
    }
    if (Flag(argv[i], "--seed", &seed) || Flag(argv[i], "--seeds", &seeds) ||
        Flag(argv[i], "--first_seed", &first) || Flag(argv[i], "--nodes", &nodes) ||
        Flag(argv[i], "--partitions", &partitions) || Flag(argv[i], "--rounds", &rounds) ||
        Flag(argv[i], "--chaos_ms", &chaos_ms) || Flag(argv[i], "--check_every", &check_every) ||
        Flag(argv[i], "--power_loss", &power_loss) || Flag(argv[i], "--verbose", &verbose)) {
      continue;
    }
    fprintf(stderr, "unknown flag %s\n", argv[i]);
    return 2;
  }
  sluice::log::SetLevel(verbose ? sluice::log::Level::kInfo : sluice::log::Level::kWarn);
  signal(SIGABRT, OnAbort);
  const int64_t start_ms = sluice::SystemClock::Get()->NowMs();
  const long long lo = seed >= 0 ? seed : first, hi = seed >= 0 ? seed : first + seeds - 1;
  long long failures = 0, runs = 0;
  sluice::sim::LogSimStats total;
  for (long long s = lo; s <= hi; ++s) {
    sluice::sim::LogSimOptions o;
    o.nodes = nodes > 0 ? static_cast<int>(nodes) : (s % 2 ? 3 : 5);
    if (partitions > 0) o.partitions = static_cast<uint32_t>(partitions);
    if (rounds > 0) o.rounds = static_cast<int>(rounds);
    if (chaos_ms > 0) o.chaos_ms = chaos_ms;
    if (check_every > 0) o.check_every_steps = static_cast<int>(check_every);
    o.power_loss = power_loss != 0;
    o.verbose = verbose != 0;
    g_seed = static_cast<uint64_t>(s);
    g_nodes = o.nodes;
    sluice::sim::LogSimStats st;
    absl::Status result = sluice::sim::RunLogSeed(static_cast<uint64_t>(s), o, &st);
    ++runs;
    total.appends_acked += st.appends_acked;
    total.appends_rejected += st.appends_rejected;
    total.appends_unknown += st.appends_unknown;
    total.appends_unknown_committed += st.appends_unknown_committed;
    total.qos2_appends_acked += st.qos2_appends_acked;
    total.qos2_releases_acked += st.qos2_releases_acked;
    total.retained_records += st.retained_records;
    total.cursor_commits_acked += st.cursor_commits_acked;
    total.state_writes_acked += st.state_writes_acked;
    total.records_verified += st.records_verified;
    total.crashes += st.crashes;
    total.power_losses += st.power_losses;
    total.unsynced_bytes_dropped += st.unsynced_bytes_dropped;
    total.restarts += st.restarts;
    total.partitions += st.partitions;
    total.leaders_elected += st.leaders_elected;
    total.messages_delivered += st.messages_delivered;
    total.messages_dropped += st.messages_dropped;
    total.convergences += st.convergences;
    total.max_recovery_ms = std::max(total.max_recovery_ms, st.max_recovery_ms);
    if (verbose) {
      printf("seed=%lld nodes=%d trace=%016llx acked=%lld\n", s, o.nodes,
             (unsigned long long)st.trace_hash, (long long)st.appends_acked);
    }
    if (!result.ok()) {
      ++failures;
      fprintf(stderr, "FAIL nodes=%d %s\n  replay: log_sim --seed=%lld --nodes=%d\n", o.nodes,
              std::string(result.message()).c_str(), s, o.nodes);
    }
  }
  const int64_t wall_ms = sluice::SystemClock::Get()->NowMs() - start_ms;
  printf("log_sim: %lld seeds, %lld failed, %lld ms wall; appends acked=%lld rejected=%lld "
         "unknown=%lld (committed %lld) qos2 acked=%lld released=%lld retained=%lld cursors=%lld state=%lld "
         "verified=%lld\n",
         runs, failures, (long long)wall_ms, (long long)total.appends_acked,
         (long long)total.appends_rejected, (long long)total.appends_unknown,
         (long long)total.appends_unknown_committed,
         (long long)total.qos2_appends_acked, (long long)total.qos2_releases_acked,
         (long long)total.retained_records, (long long)total.cursor_commits_acked,
         (long long)total.state_writes_acked, (long long)total.records_verified);
  printf("log_sim: crashes=%lld power_losses=%lld unsynced_bytes_dropped=%lld restarts=%lld "
         "partitions=%lld leaders=%lld delivered=%lld dropped=%lld convergences=%lld "
         "max_recovery_ms=%lld\n",
         (long long)total.crashes, (long long)total.power_losses,
         (long long)total.unsynced_bytes_dropped, (long long)total.restarts,
         (long long)total.partitions, (long long)total.leaders_elected,
         (long long)total.messages_delivered, (long long)total.messages_dropped,
         (long long)total.convergences, (long long)total.max_recovery_ms);
  return failures ? 1 : 0;
}
