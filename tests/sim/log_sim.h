// The log simulator: several replicas of the real commit log -- storage::PartitionedLog, i.e.
// the MultiRaft driver, the LogState state machine (records read from the Raft entries) and a
// RocksDB per node -- in one thread, in simulated milliseconds, with one seed driving
// everything (TigerBeetle VOPR style; README.md "Log simulator").
//
// Each node: a PartitionedLog in cluster mode with an external driver (the simulator calls
// RunOnce), a ManualClock shared by all nodes, a SimTransport on a SimNetwork (loss,
// duplication, delay/reordering, symmetric and asymmetric partitions), and a RocksDB on the
// node's own in-memory disk (rocksdb::NewMemEnv) under a FaultInjectionFs, so a crash can drop
// every unsynced byte (power loss) or none (process crash). Clients append records (QoS 0-2,
// retained set/clear), release QoS 2 packet ids, commit cursors and write metadata keys, on
// whichever node they believe leads, during crashes, restarts and partitions; after each
// chaos period the faults heal, every group must accept a write and every replica must
// converge within a bound, and then the replicas are compared with each other and with what
// the clients were told.
//
// Single-threaded (RocksDB's own background threads aside, see README.md for what that means
// for determinism). Errors: RunLogSeed returns Internal naming the broken invariant, the seed
// and the simulated time; a CHECK failure inside the code under test aborts (the driver's
// signal handler prints the seed).
#ifndef SLUICE_TESTS_SIM_LOG_SIM_H_
#define SLUICE_TESTS_SIM_LOG_SIM_H_

#include <cstdint>

#include "absl/status/status.h"

namespace sluice::sim {

struct LogSimOptions {
  int nodes = 3;
  uint32_t partitions = 2;
  int rounds = 2;                     // chaos period + heal period, repeated
  int64_t chaos_ms = 3000;            // length of each chaos period
  int64_t liveness_bound_ms = 15'000;  // after healing: every group writable, replicas converged
  int check_every_steps = 1;          // the per-step checkers run every this many steps
  bool power_loss = true;             // crashes may drop unsynced data (else process crashes)
  bool verbose = false;
};

struct LogSimStats {
  int64_t sim_ms = 0;
  int64_t appends_acked = 0;       // the callback got an offset
  int64_t appends_rejected = 0;    // not applied (FailedPrecondition, ResourceExhausted)
  int64_t appends_unknown = 0;     // Unavailable / DeadlineExceeded / Cancelled
  int64_t appends_unknown_committed = 0;  // of those, found in the converged log
  int64_t qos2_appends_acked = 0;
  int64_t qos2_releases_acked = 0;
  int64_t retained_records = 0;    // committed records with the retain flag
  int64_t cursor_commits_acked = 0;
  int64_t state_writes_acked = 0;  // metadata puts and deletes
  int64_t records_verified = 0;    // replica reads compared with the committed history
  int64_t crashes = 0;
  int64_t power_losses = 0;        // crashes that dropped unsynced data
  int64_t unsynced_bytes_dropped = 0;
  int64_t restarts = 0;
  int64_t partitions = 0;          // symmetric and asymmetric ones started
  int64_t leaders_elected = 0;     // distinct (group, term) leaders seen
  int64_t messages_delivered = 0;
  int64_t messages_dropped = 0;
  int64_t snapshots_sent = 0;      // must stay 0 (see README.md "Known limits")
  int64_t convergences = 0;        // heals after which every replica agreed
  int64_t max_recovery_ms = 0;     // longest heal-to-convergence time
  // A hash of everything the run observed (acknowledgements, leaders, crashes, final states):
  // equal for two runs of one seed when the run is deterministic.
  uint64_t trace_hash = 0;
};

// Runs one seed. OK if every invariant held and every heal converged in time.
absl::Status RunLogSeed(uint64_t seed, const LogSimOptions& options, LogSimStats* stats);

}  // namespace sluice::sim

#endif  // SLUICE_TESTS_SIM_LOG_SIM_H_
