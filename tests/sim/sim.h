// Deterministic cluster simulator for the Raft core (TigerBeetle VOPR style).
//
// N nodes, each a RawNode over a MemoryStorage that holds only *synced* state: a Ready's writes
// stay pending for a simulated disk latency and a crash in that window loses them. Simulated
// time in milliseconds; one SeededRng drives everything (network, faults, clients, and the
// nodes' election timeouts), so a seed replays exactly. The network delays, drops, duplicates
// and reorders messages and applies symmetric and asymmetric partitions; nodes crash and restart.
// Every step checks the safety invariants; after each chaos period the faults heal and a leader
// must commit a proposal within a bound (liveness).
//
// Single-threaded; not thread-safe. Errors: Run returns Internal with the failed invariant and
// the seed; a Raft CHECK failure aborts the process (the driver prints the seed first).
#ifndef SLUICE_TESTS_SIM_SIM_H_
#define SLUICE_TESTS_SIM_SIM_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace sluice::sim {

struct SimOptions {
  int nodes = 3;
  int rounds = 3;                  // chaos period + heal period, repeated
  int64_t chaos_ms = 3000;         // length of each chaos period
  int64_t tick_ms = 10;            // one Raft tick
  int election_tick = 10;
  int heartbeat_tick = 2;
  int64_t liveness_bound_ms = 6000;  // after healing, a proposal must commit within this
  bool verbose = false;
};

struct SimStats {
  int64_t committed_entries = 0;  // distinct committed indexes seen
  int64_t leaders_elected = 0;    // distinct (term, leader)
  int64_t crashes = 0;
  int64_t messages_delivered = 0;
  int64_t messages_dropped = 0;
  int64_t snapshots_installed = 0;
  int64_t sim_ms = 0;
  int64_t max_recovery_ms = 0;  // longest heal-to-commit time observed
  int64_t conf_changes = 0;        // distinct committed membership changes
  int64_t nodes_removed = 0;
  int64_t leaders_removed = 0;     // removed while leading (they stepped down)
  int64_t promotions_refused = 0;  // learner not caught up
  int64_t transfers_requested = 0;
  int64_t reads_served = 0;        // ReadIndex reads checked and served
  // Step errors of the expected kinds (sim.cc CheckStepError); any other fails the seed.
  int64_t step_errors_expected = 0;
};

// Runs one seed. OK if every invariant held and liveness was met.
absl::Status RunSeed(uint64_t seed, const SimOptions& options, SimStats* stats);

}  // namespace sluice::sim

#endif  // SLUICE_TESTS_SIM_SIM_H_
