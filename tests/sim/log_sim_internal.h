// Internal to the log simulator: the LogSimulation class shared by log_sim.cc (nodes, faults,
// the step loop, heal and convergence), log_sim_clients.cc (the clients and what they were
// told) and log_sim_check.cc (the checkers). Single-threaded.
#ifndef SLUICE_TESTS_SIM_LOG_SIM_INTERNAL_H_
#define SLUICE_TESTS_SIM_LOG_SIM_INTERNAL_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/rng.h"
#include "rocksdb/env.h"
#include "storage/log/partitioned_log.h"
#include "storage/log/partitioner.h"
#include "storage/testing/fault_injection_env.h"
#include "tests/sim/log_sim.h"
#include "tests/sim/sim_transport.h"

namespace sluice::sim::logsim {

// What a client was told about one of its operations.
enum class Outcome {
  kPending,   // no answer yet
  kAcked,     // done: applied (an append got its offset)
  kRejected,  // refused before proposing, or by the Raft core: not applied
  kUnknown,   // Unavailable / DeadlineExceeded / Cancelled: may or may not be applied
};

struct SimLogNode {
  NodeId id;
  std::unique_ptr<rocksdb::Env> mem_env;  // the node's disk: survives its crashes
  std::shared_ptr<storage::testing::FaultInjectionFs> fs;  // over mem_env's file system
  std::unique_ptr<rocksdb::Env> env;      // what RocksDB uses: fs
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<storage::PartitionedLog> log;  // null while down
  int64_t busy_until_ms = 0;  // a slow driver: no turn before then
  // This incarnation: offsets [0, verified[p]) of partition p were read and checked, and the
  // high watermark last seen (it may never go back while the node is up).
  std::vector<uint64_t> verified;
  std::vector<Offset> last_hwm;
  bool up() const { return log != nullptr; }
};

struct AppendOp {
  PartitionId partition;
  storage::Record record;
  uint16_t packet_id = 0;
  Outcome outcome = Outcome::kPending;
  Offset offset;  // kAcked
  NodeId node;    // where it was made
};

// Operations on one key (a QoS 2 packet id, a cursor, a metadata key). A client makes them one
// at a time, each after the previous one was answered, so those the log applies are applied
// in the order they were made (a leader of a later term has every entry committed earlier,
// and terms only grow along the log): the final state is predictable from the outcomes.
struct KeyOp {
  enum class Kind { kAppend, kRelease, kCommit, kPut, kDelete } kind;
  uint64_t append_id = 0;  // kAppend
  Offset offset;           // kCommit
  std::string value;       // kPut
  Outcome outcome = Outcome::kPending;
};
struct KeyHistory {
  std::vector<KeyOp> ops;
  bool busy() const { return !ops.empty() && ops.back().outcome == Outcome::kPending; }
};

using Qos2Key = std::tuple<uint32_t, std::string, uint16_t>;  // partition, publisher, packet id
using CursorKey = std::pair<uint32_t, std::string>;           // partition, name

// A committed record, as the first replica that was read at its offset had it.
struct Committed {
  uint64_t append_id;
  storage::Record record;
};

class LogSimulation {
 public:
  LogSimulation(uint64_t seed, const LogSimOptions& o, LogSimStats* stats);
  ~LogSimulation();
  absl::Status Run();

 private:
  // log_sim.cc
  absl::Status Fail(const std::string& what);
  void Trace(uint64_t a, uint64_t b = 0, uint64_t c = 0);
  absl::Status StartNode(SimLogNode& n);
  void CrashNode(SimLogNode& n);
  absl::Status Faults();
  absl::Status Step(bool clients);
  absl::Status HealAndConverge(int round);
  bool Converged() const;
  std::string DescribeGroups() const;
  std::vector<GroupId> Groups() const;
  std::optional<multiraft::GroupStatus> StatusOf(const SimLogNode& n, GroupId g) const;

  // log_sim_clients.cc
  void Clients();
  // The node that leads `g` in the highest term any up node reports (nullptr: none).
  SimLogNode* LeaderOf(GroupId g);
  // Mostly the believed leader, sometimes any up node (whose refusal is expected).
  SimLogNode* Target(GroupId g);
  storage::Record NewRecord(const std::string& topic, uint64_t id, bool retain_allowed);
  uint64_t Append(SimLogNode& n, PartitionId p, storage::Record r, uint16_t packet_id);
  void PlainAppend();
  void Qos2Client();
  void CursorClient();
  void MetadataClient();
  void LivenessProbes(int round, std::set<GroupId>* done);
  void OnAppendDone(uint64_t id, absl::StatusOr<Offset> r);
  // Sorts an answer into an Outcome; an error no operation may return fails the seed (it is
  // kept in client_error_ and returned by the next Step).
  Outcome Classify(const absl::Status& st, const char* what);
  void OnKeyDone(KeyHistory* h, size_t op, const absl::Status& st, const char* what);
  bool OpsPending() const;

  // log_sim_check.cc
  absl::Status CheckStep();
  absl::Status CheckLeaders();
  absl::Status VerifyRecords(SimLogNode& n);
  absl::Status CheckQos2Entries(SimLogNode& n);
  absl::Status RecordCommitted(PartitionId p, Offset o, const storage::Record& r, NodeId node);
  absl::Status CheckAck(uint64_t id);
  absl::Status CheckConverged();
  absl::Status CheckRetained(SimLogNode& n);
  absl::Status CheckQos2Model(SimLogNode& n);
  absl::Status CheckCursors(SimLogNode& n);
  absl::Status CheckMetadata(SimLogNode& n);

  const uint64_t seed_;
  const LogSimOptions o_;
  LogSimStats* stats_;
  SeededRng rng_;  // the only source of randomness
  ManualClock clock_;
  SimNetwork network_;
  storage::Partitioner partitioner_;
  // Per seed.
  NetworkFaults chaos_faults_;
  int64_t tick_ms_ = 10;
  int election_tick_ = 10, heartbeat_tick_ = 1;
  bool pre_vote_ = true, check_quorum_ = true;
  uint64_t max_inflight_msgs_ = 256, max_size_per_msg_ = 1 << 20;
  uint64_t snapshot_interval_entries_ = 10'000;
  int64_t turn_ms_max_ = 0;
  bool power_loss_ = true;

  std::vector<SimLogNode> nodes_;  // slot id-1
  std::vector<std::string> topics_;
  int64_t step_ = 0;
  absl::Status client_error_;
  // What the clients did and were told.
  uint64_t next_id_ = 1;
  std::map<uint64_t, AppendOp> appends_;  // by record id
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> acked_at_;  // (partition, offset) -> id
  std::map<Qos2Key, KeyHistory> qos2_;
  std::map<CursorKey, KeyHistory> cursors_;
  std::map<std::string, KeyHistory> state_keys_;
  int64_t ops_pending_ = 0;                // operations not yet answered
  std::map<uint32_t, uint64_t> probes_;    // partition -> this heal's liveness append
  // What the replicas showed: the committed history of every partition, and where each
  // record id ended up.
  std::vector<std::vector<Committed>> history_;
  std::map<uint64_t, std::pair<uint32_t, uint64_t>> located_;
  std::map<std::pair<GroupId, Term>, NodeId> leaders_;
  uint64_t trace_ = 1469598103934665603ULL;
};

}  // namespace sluice::sim::logsim

#endif  // SLUICE_TESTS_SIM_LOG_SIM_INTERNAL_H_
