// The log simulator's core: per-seed settings, the nodes (disk, transport, PartitionedLog),
// crashes and restarts, partitions, the step loop, and heal + convergence. Clients live in
// log_sim_clients.cc, checkers in log_sim_check.cc.
#include "tests/sim/log_sim.h"

#include <algorithm>
#include <sstream>

#include "base/status.h"
#include "storage/log/log_state.h"
#include "tests/sim/log_sim_internal.h"

namespace sluice::sim {
namespace logsim {
namespace {

// The network's bound on messages in flight (SimNetwork drops and counts beyond it).
constexpr uint64_t kInflightMsgsMax = 200'000;
// Each node's driver: its inbox and its pending proposals (beyond: dropped / refused).
constexpr uint64_t kInboxMsgsMax = 20'000;
constexpr uint64_t kPendingAppendsMax = 2'000;
// Never compact a Raft log: LogState cannot install a snapshot sent by another replica yet
// (storage/README.md "Remaining"), so no follower may ever need one (README.md "Known limits").
constexpr uint64_t kCompactionLagEntries = uint64_t{1} << 40;

}  // namespace

LogSimulation::LogSimulation(uint64_t seed, const LogSimOptions& o, LogSimStats* stats)
    : seed_(seed),
      o_(o),
      stats_(stats),
      rng_(seed),
      clock_(1'000'000),
      network_(&rng_, &clock_, kInflightMsgsMax),
      partitioner_(o.partitions, 0) {
  // Per-seed protocol, fault and timing settings, all from the one rng.
  pre_vote_ = rng_.Chance(3, 4);
  check_quorum_ = rng_.Chance(3, 4);
  heartbeat_tick_ = static_cast<int>(1 + rng_.Uniform(3));
  max_inflight_msgs_ = 1 + rng_.Uniform(64);
  max_size_per_msg_ = 256 + rng_.Uniform(16 << 10);
  snapshot_interval_entries_ = 8 + rng_.Uniform(64);
  chaos_faults_.drop_pct = rng_.Uniform(10);
  chaos_faults_.dup_pct = rng_.Uniform(6);
  chaos_faults_.delay_ms_max = 1 + static_cast<int64_t>(rng_.Uniform(30));
  turn_ms_max_ = static_cast<int64_t>(rng_.Uniform(4));
  power_loss_ = o.power_loss;
  network_.set_faults(chaos_faults_);
  // Topics: at least two per partition, found deterministically.
  std::vector<int> per_partition(o.partitions, 0);
  for (int i = 0; topics_.size() < 4 * o.partitions && i < 10'000; ++i) {
    const std::string t = "t/" + std::to_string(i);
    int& n = per_partition[partitioner_.For(t).value()];
    if (n >= 4) continue;
    ++n;
    topics_.push_back(t);
  }
  history_.resize(o.partitions);
  for (int i = 1; i <= o.nodes; ++i) {
    SimLogNode n;
    n.id = NodeId(i);
    n.mem_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    n.fs = std::make_shared<storage::testing::FaultInjectionFs>(n.mem_env->GetFileSystem());
    n.env = storage::testing::NewFaultInjectionEnv(n.fs);
    nodes_.push_back(std::move(n));
  }
}

LogSimulation::~LogSimulation() {
  // Destroy the logs (their callbacks still reach this object) before the disks.
  for (SimLogNode& n : nodes_) {
    n.log.reset();
    n.transport.reset();
  }
}

absl::Status LogSimulation::Fail(const std::string& what) {
  std::ostringstream os;
  os << "seed=" << seed_ << " t=" << step_ << "ms: " << what;
  return absl::InternalError(os.str());
}

void LogSimulation::Trace(uint64_t a, uint64_t b, uint64_t c) {
  for (uint64_t v : {a, b, c, static_cast<uint64_t>(step_)}) {
    trace_ = (trace_ ^ v) * 0x100000001b3ULL;
  }
  stats_->trace_hash = trace_;
}

std::vector<GroupId> LogSimulation::Groups() const {
  std::vector<GroupId> out{storage::LogState::kMetadataGroup};
  for (uint32_t p = 0; p < o_.partitions; ++p) {
    out.push_back(storage::LogState::GroupOf(PartitionId(p)));
  }
  return out;
}

std::optional<multiraft::GroupStatus> LogSimulation::StatusOf(const SimLogNode& n,
                                                              GroupId g) const {
  if (!n.up()) return std::nullopt;
  if (g == storage::LogState::kMetadataGroup) return n.log->MetadataRaftStatus();
  return n.log->RaftStatus(storage::LogState::PartitionOf(g));
}

absl::Status LogSimulation::StartNode(SimLogNode& n) {
  n.transport = std::make_unique<SimTransport>(&network_, n.id);
  storage::PartitionedLogOptions o;
  o.dir = "/sim/n" + std::to_string(n.id.value());
  o.partitions = o_.partitions;
  o.sync = true;
  o.env = n.env.get();
  o.clock = &clock_;
  o.retention = {};
  o.node_id = n.id;
  o.transport = n.transport.get();
  for (const SimLogNode& m : nodes_) o.members.push_back(m.id);
  o.raft_seed = rng_.Next() | 1;
  o.external_driver = true;
  o.tick_ms = tick_ms_;
  o.append_timeout_ms = 3'000;
  o.pending_appends_max = kPendingAppendsMax;
  o.snapshot_interval_entries = snapshot_interval_entries_;
  o.compaction_lag_entries = kCompactionLagEntries;
  // Big enough that no memtable fills up in a run: no background flush (README.md).
  o.memory_budget_bytes = 64 << 20;
  o.raft_options_for_testing = [this](multiraft::MultiRaftOptions* mo) {
    mo->election_tick = election_tick_;
    mo->heartbeat_tick = heartbeat_tick_;
    mo->pre_vote = pre_vote_;
    mo->check_quorum = check_quorum_;
    mo->max_inflight_msgs = max_inflight_msgs_;
    mo->max_size_per_msg = max_size_per_msg_;
    mo->inbox_msgs_max = kInboxMsgsMax;
  };
  absl::StatusOr<std::unique_ptr<storage::PartitionedLog>> log =
      storage::PartitionedLog::Open(std::move(o));
  if (!log.ok()) {
    return Fail("node " + std::to_string(n.id.value()) + " did not open: " +
                log.status().ToString());
  }
  n.log = std::move(*log);
  n.verified.assign(o_.partitions, 0);
  n.last_hwm.assign(o_.partitions, Offset(0));
  n.busy_until_ms = 0;
  Trace(1, n.id.value());
  return absl::OkStatus();
}

void LogSimulation::CrashNode(SimLogNode& n) {
  const bool power_loss = power_loss_ && rng_.Chance(1, 2);
  if (o_.verbose) {
    fprintf(stderr, "t=%lld crash n%llu%s\n", (long long)step_, (unsigned long long)n.id.value(),
            power_loss ? " (power loss)" : "");
  }
  // From here on nothing reaches the disk; destroying the log (its callbacks complete with
  // Cancelled) then leaves the files as the crash did.
  if (power_loss) n.fs->Crash();
  n.log.reset();
  n.transport.reset();
  if (power_loss) {
    stats_->unsynced_bytes_dropped += static_cast<int64_t>(n.fs->DropUnsyncedData());
    ++stats_->power_losses;
  }
  ++stats_->crashes;
  Trace(2, n.id.value(), power_loss);
}

absl::Status LogSimulation::Faults() {
  // Per-millisecond probabilities: a 3 s chaos period sees a handful of each.
  if (rng_.Chance(1, 1200)) {
    SimLogNode& n = nodes_[rng_.Uniform(nodes_.size())];
    if (n.up()) CrashNode(n);
  }
  for (SimLogNode& n : nodes_) {
    if (!n.up() && rng_.Chance(1, 300)) {
      RETURN_IF_ERROR(StartNode(n));
      ++stats_->restarts;
    }
  }
  if (rng_.Chance(1, 1000)) {
    // Symmetric: a random side against the rest.
    network_.HealAll();
    std::vector<bool> side(nodes_.size());
    for (size_t i = 0; i < side.size(); ++i) side[i] = rng_.Chance(1, 2);
    for (size_t a = 0; a < side.size(); ++a) {
      for (size_t b = 0; b < side.size(); ++b) {
        if (side[a] != side[b]) network_.Block(nodes_[a].id, nodes_[b].id);
      }
    }
    ++stats_->partitions;
    Trace(3);
  }
  if (rng_.Chance(1, 1000)) {
    // Asymmetric: some one-way links fail.
    for (int k = 0, links = 1 + static_cast<int>(rng_.Uniform(3)); k < links; ++k) {
      const NodeId a = nodes_[rng_.Uniform(nodes_.size())].id;
      const NodeId b = nodes_[rng_.Uniform(nodes_.size())].id;
      if (a != b) network_.Block(a, b);
    }
    ++stats_->partitions;
    Trace(4);
  }
  if (rng_.Chance(1, 1200)) network_.HealAll();
  return absl::OkStatus();
}

absl::Status LogSimulation::Step(bool clients) {
  ++step_;
  clock_.AdvanceMs(1);
  if (clients) Clients();
  network_.DeliverDue();
  for (SimLogNode& n : nodes_) {
    if (!n.up() || step_ < n.busy_until_ms) continue;
    const bool worked = n.log->RunOnce();
    if (worked && turn_ms_max_ > 0) {
      n.busy_until_ms = step_ + static_cast<int64_t>(rng_.Uniform(turn_ms_max_ + 1));
    }
  }
  RETURN_IF_ERROR(client_error_);
  if (step_ % o_.check_every_steps == 0) RETURN_IF_ERROR(CheckStep());
  return absl::OkStatus();
}

bool LogSimulation::Converged() const {
  for (const SimLogNode& n : nodes_) {
    if (!n.up()) return false;
  }
  for (GroupId g : Groups()) {
    std::optional<multiraft::GroupStatus> lead;
    for (const SimLogNode& n : nodes_) {
      std::optional<multiraft::GroupStatus> s = StatusOf(n, g);
      if (s && s->state == raft::StateType::kLeader && (!lead || s->term > lead->term)) lead = s;
    }
    if (!lead || lead->commit != lead->last_index || lead->applied != lead->last_index) {
      return false;
    }
    for (const SimLogNode& n : nodes_) {
      std::optional<multiraft::GroupStatus> s = StatusOf(n, g);
      if (!s || s->applied != lead->last_index || s->term != lead->term) return false;
    }
  }
  return true;
}

std::string LogSimulation::DescribeGroups() const {
  std::ostringstream os;
  for (GroupId g : Groups()) {
    os << " g" << g.value() << "{";
    for (const SimLogNode& n : nodes_) {
      std::optional<multiraft::GroupStatus> s = StatusOf(n, g);
      if (!s) {
        os << " n" << n.id << ":down";
        continue;
      }
      os << " n" << n.id << ":" << raft::StateTypeName(s->state) << "/t" << s->term << "/c"
         << s->commit << "/a" << s->applied << "/l" << s->last_index;
    }
    os << " }";
  }
  return os.str();
}

absl::Status LogSimulation::HealAndConverge(int round) {
  network_.HealAll();
  NetworkFaults calm;
  calm.delay_ms_max = chaos_faults_.delay_ms_max;
  network_.set_faults(calm);
  for (SimLogNode& n : nodes_) {
    if (!n.up()) {
      RETURN_IF_ERROR(StartNode(n));
      ++stats_->restarts;
    }
  }
  const int64_t healed_at = step_;
  std::set<GroupId> probed;
  probes_.clear();
  while (step_ < healed_at + o_.liveness_bound_ms) {
    LivenessProbes(round, &probed);
    RETURN_IF_ERROR(Step(false));
    if (probed.size() == Groups().size() && !OpsPending() && Converged()) {
      RETURN_IF_ERROR(CheckConverged());
      stats_->max_recovery_ms = std::max(stats_->max_recovery_ms, step_ - healed_at);
      ++stats_->convergences;
      network_.set_faults(chaos_faults_);
      return absl::OkStatus();
    }
  }
  std::ostringstream os;
  os << "liveness: not every group accepted a write and converged within "
     << o_.liveness_bound_ms << " ms after healing (probes done " << probed.size() << "/"
     << Groups().size() << ", ops pending " << OpsPending() << "):" << DescribeGroups();
  return Fail(os.str());
}

absl::Status LogSimulation::Run() {
  for (SimLogNode& n : nodes_) RETURN_IF_ERROR(StartNode(n));
  for (int round = 0; round < o_.rounds; ++round) {
    const int64_t chaos_end = step_ + o_.chaos_ms;
    while (step_ < chaos_end) {
      RETURN_IF_ERROR(Faults());
      RETURN_IF_ERROR(Step(true));
    }
    RETURN_IF_ERROR(HealAndConverge(round));
  }
  stats_->sim_ms = step_;
  stats_->messages_delivered = static_cast<int64_t>(network_.stats().delivered);
  const NetworkStats& ns = network_.stats();
  stats_->messages_dropped = static_cast<int64_t>(ns.dropped_loss + ns.dropped_blocked +
                                                  ns.dropped_down + ns.dropped_queue_full);
  stats_->snapshots_sent = static_cast<int64_t>(ns.snapshots);
  for (const auto& [id, op] : appends_) {
    if (op.outcome == Outcome::kUnknown && located_.count(id)) ++stats_->appends_unknown_committed;
  }
  if (ns.snapshots > 0) return Fail("a leader sent a snapshot (the simulator allows none)");
  return absl::OkStatus();
}

}  // namespace logsim

absl::Status RunLogSeed(uint64_t seed, const LogSimOptions& options, LogSimStats* stats) {
  LogSimStats local;
  logsim::LogSimulation sim(seed, options, stats ? stats : &local);
  return sim.Run();
}

}  // namespace sluice::sim
