// The simulator's core: simulated network and storage, faults, and the safety checks made after
// every step. Client operations beyond plain proposals live in sim_ops.cc.
#include "tests/sim/sim.h"

#include <sstream>

#include "base/check.h"
#include "base/status.h"
#include "tests/sim/sim_internal.h"

namespace sluice::sim {
namespace internal {
namespace {

using raft::Entry;
using raft::Message;
using raft::MessageType;
using raft::RawNode;
using raft::Ready;

// Slots for nodes that join later (each id is used once: a removed node never comes back).
constexpr int kSpareNodes = 4;

// FNV-1a style mixing: the state machine's "state" is a running hash of applied entries.
uint64_t Mix(uint64_t h, const std::string& data, uint64_t index) {
  h ^= index + 0x9e3779b97f4a7c15ULL;
  for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ULL;
  return h * 0x100000001b3ULL;
}

std::string EncodeHash(uint64_t h) { return std::to_string(h); }
uint64_t DecodeHash(const std::string& s) { return s.empty() ? 0 : std::stoull(s); }

}  // namespace

Simulation::Simulation(uint64_t seed, const SimOptions& o, SimStats* stats)
    : seed_(seed), o_(o), stats_(stats), rng_(seed) {
  // Per-seed protocol and fault parameters, all from the one rng.
  pre_vote_ = rng_.Chance(3, 4);
  check_quorum_ = rng_.Chance(3, 4);
  max_inflight_msgs_ = 1 + rng_.Uniform(8);
  max_size_per_msg_ = 64 + rng_.Uniform(512);
  compact_every_ = 5 + rng_.Uniform(60);
  drop_pct_ = rng_.Uniform(15);
  dup_pct_ = rng_.Uniform(10);
  max_delay_ms_ = 1 + static_cast<int64_t>(rng_.Uniform(40));
  max_disk_ms_ = static_cast<int64_t>(rng_.Uniform(15));
  max_learner_lag_entries_ = rng_.Uniform(20);
  for (int i = 1; i <= o.nodes; ++i) initial_conf_.voters.push_back(NodeId(i));
  for (int i = 1; i <= o.nodes + kSpareNodes; ++i) {
    SimNode n;
    n.id = NodeId(i);
    if (i <= o.nodes) n.storage = std::make_unique<raft::MemoryStorage>(initial_conf_);
    n.tick_phase_ms = static_cast<int64_t>(rng_.Uniform(o.tick_ms));
    nodes_.push_back(std::move(n));
  }
  for (SimNode& n : nodes_) {
    if (n.joined()) Start(n);
  }
}

absl::Status Simulation::Run() {
  for (int round = 0; round < o_.rounds; ++round) {
    const int64_t chaos_end = now_ + o_.chaos_ms;
    while (now_ < chaos_end) {
      Faults();
      RETURN_IF_ERROR(Step());
    }
    Heal();
    RETURN_IF_ERROR(CheckLiveness());
  }
  stats_->sim_ms = now_;
  return absl::OkStatus();
}

absl::Status Simulation::Fail(const std::string& what) {
  std::ostringstream os;
  os << "seed=" << seed_ << " t=" << now_ << "ms: " << what;
  return absl::InternalError(os.str());
}

void Simulation::Start(SimNode& n) {
  raft::Config c;
  c.id = n.id;
  c.election_tick = o_.election_tick;
  c.heartbeat_tick = o_.heartbeat_tick;
  c.storage = n.storage.get();
  c.rng = &rng_;
  c.pre_vote = pre_vote_;
  c.check_quorum = check_quorum_;
  c.max_inflight_msgs = max_inflight_msgs_;
  c.max_size_per_msg = max_size_per_msg_;
  c.max_uncommitted_entries_size = 1 << 16;
  c.max_learner_lag_entries = max_learner_lag_entries_;
  // The state machine restarts from the durable snapshot.
  const raft::Snapshot snap = *n.storage->GetSnapshot();
  n.applied = snap.metadata.index;
  n.hash = DecodeHash(snap.data);
  c.applied = n.applied;
  absl::StatusOr<std::unique_ptr<RawNode>> raw = RawNode::Create(c);
  SLUICE_CHECK_OK(raw.status());
  n.raw = *std::move(raw);
  n.pending.reset();
  n.reads.clear();
  ++n.incarnation;
}

void Simulation::Crash(SimNode& n) {
  if (o_.verbose) fprintf(stderr, "t=%ld crash %lu\n", (long)now_, (unsigned long)n.id.value());
  n.raw.reset();
  n.pending.reset();  // unsynced writes are lost
  n.reads.clear();
  ++stats_->crashes;
}

void Simulation::Faults() {
  // Per-millisecond probabilities, tuned so a 3 s chaos period sees a handful of each.
  if (rng_.Chance(1, 1500)) {
    SimNode& n = nodes_[rng_.Uniform(nodes_.size())];
    if (n.up()) Crash(n);
  }
  for (SimNode& n : nodes_) {
    if (!n.up() && n.joined() && !n.removed && rng_.Chance(1, 400)) {
      if (!CheckRestart(n).ok()) restart_error_ = CheckRestart(n);
      Start(n);
    }
  }
  if (rng_.Chance(1, 1000)) {
    // Symmetric partition: a random side against the rest.
    blocked_.clear();
    std::vector<bool> side(nodes_.size());
    for (size_t i = 0; i < side.size(); ++i) side[i] = rng_.Chance(1, 2);
    for (size_t a = 0; a < side.size(); ++a) {
      for (size_t b = 0; b < side.size(); ++b) {
        if (side[a] != side[b]) blocked_.insert({a + 1, b + 1});
      }
    }
  }
  if (rng_.Chance(1, 1000)) {
    // Asymmetric: some one-way links fail.
    for (int k = 0, n = 1 + static_cast<int>(rng_.Uniform(3)); k < n; ++k) {
      uint64_t a = 1 + rng_.Uniform(nodes_.size()), b = 1 + rng_.Uniform(nodes_.size());
      if (a != b) blocked_.insert({a, b});
    }
  }
  if (rng_.Chance(1, 1200)) blocked_.clear();
  if (rng_.Chance(1, 20)) Propose();
  ClientOps();
}

absl::Status Simulation::CheckRestart(SimNode& n) {
  const raft::HardState& hs = n.storage->hard_state();
  if (hs.term < n.max_sent_term) {
    return Fail("durable term fell behind a term the node sent before crashing");
  }
  return absl::OkStatus();
}

void Simulation::Propose() {
  SimNode& n = nodes_[rng_.Uniform(nodes_.size())];
  if (!n.up()) return;
  (void)n.raw->Propose("c" + std::to_string(next_proposal_++));  // drops are fine
}

void Simulation::Heal() {
  blocked_.clear();
  healed_ = true;
  for (SimNode& n : nodes_) {
    if (!n.up() && n.joined() && !n.removed) {
      if (!CheckRestart(n).ok()) restart_error_ = CheckRestart(n);
      Start(n);
    }
  }
}

absl::Status Simulation::CheckLiveness() {
  const int64_t deadline = now_ + o_.liveness_bound_ms;
  const std::string marker = "live-" + std::to_string(now_);
  marker_applied_ = false;
  marker_ = marker;
  while (now_ < deadline) {
    if (now_ % o_.tick_ms == 0) {
      if (SimNode* l = Leader()) (void)l->raw->Propose(marker);
    }
    RETURN_IF_ERROR(Step());
    if (marker_applied_) {
      stats_->max_recovery_ms =
          std::max(stats_->max_recovery_ms, now_ - (deadline - o_.liveness_bound_ms));
      healed_ = false;
      return absl::OkStatus();
    }
  }
  std::ostringstream os;
  os << "liveness: no proposal committed within " << o_.liveness_bound_ms
     << "ms after healing;";
  for (SimNode& n : nodes_) {
    if (!n.up()) continue;
    const raft::Raft& r = n.raw->raft();
    os << " n" << n.id << "{" << raft::StateTypeName(r.state()) << " term=" << r.term()
       << " lead=" << r.lead() << " last=" << r.log().LastIndex()
       << " commit=" << r.log().committed() << " applied=" << r.log().applied()
       << " voters=" << r.tracker().voters().size() << " promotable=" << r.Promotable()
       << " lastterm=" << r.log().LastTerm() << " vote=" << r.vote()
       << " elapsed=" << r.election_elapsed() << "/" << r.randomized_election_timeout()
       << "}";
  }
  return Fail(os.str());
}

void Simulation::Send(SimNode& from, std::vector<Message> msgs) {
  for (Message& m : msgs) {
    // Pre-vote traffic carries a future term that is (by design) never persisted.
    if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResp) {
      from.max_sent_term = std::max(from.max_sent_term, m.term);
    }
    const bool blocked = blocked_.count({m.from.value(), m.to.value()}) > 0;
    const bool lost = !healed_ && rng_.Uniform(100) < drop_pct_;
    const int copies = (!healed_ && rng_.Uniform(100) < dup_pct_) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      Envelope e{now_ + 1 + static_cast<int64_t>(rng_.Uniform(max_delay_ms_)), seq_++, m,
                 from.incarnation, blocked || lost};
      if (e.dropped && m.type != MessageType::kSnap) {
        ++stats_->messages_dropped;
        continue;
      }
      inflight_.push(std::move(e));
    }
  }
}

// The errors RawNode::Step may return for a message that arrived over the network, and why
// they are part of normal operation (everything else fails the seed):
//  - FailedPrecondition (IsProposalDropped) for the requests a follower forwards to its leader
//    (kProp: proposals made on a follower; kReadIndex; kTransferLeader): by the time one
//    arrives the receiver may no longer (or not yet) lead, be transferring leadership, have a
//    conf change pending, hit its uncommitted-size limit, or not yet have committed in its
//    term. The core drops the request; the client's retry is the remedy, as for a local one.
//  - NotFound for a response (kAppResp, kVoteResp, ...) from a node that is not in the
//    receiver's membership: a removed node still answering, or a joining learner whose
//    addition the receiver has not applied yet.
absl::Status Simulation::CheckStepError(const Message& m, const absl::Status& st) {
  if (st.ok()) return st;
  const bool forwarded_request = m.type == MessageType::kProp ||
                                 m.type == MessageType::kReadIndex ||
                                 m.type == MessageType::kTransferLeader;
  if ((forwarded_request && raft::IsProposalDropped(st)) ||
      (raft::IsResponseMessage(m.type) && absl::IsNotFound(st))) {
    ++stats_->step_errors_expected;
    return absl::OkStatus();
  }
  std::ostringstream os;
  os << "unexpected Step error on node " << m.to << " for " << raft::MessageTypeName(m.type)
     << " from " << m.from << ": " << st;
  return Fail(os.str());
}

absl::Status Simulation::Deliver(Envelope& e) {
  SimNode& to = node(e.msg.to);
  SimNode& from = node(e.msg.from);
  const bool is_snap = e.msg.type == MessageType::kSnap;
  // Partitions that began while the message was in flight also cut it.
  const bool cut = e.dropped || blocked_.count({e.msg.from.value(), e.msg.to.value()}) > 0;
  bool delivered = false;
  absl::Status result;
  if (!cut && to.up()) {
    ++stats_->messages_delivered;
    delivered = true;
    result = CheckStepError(e.msg, to.raw->Step(e.msg));
  } else {
    ++stats_->messages_dropped;
  }
  // A snapshot that reached the node counts as delivered, whatever the core made of it (a
  // stale one is ignored and answered with an append response).
  if (is_snap && from.up() && from.incarnation == e.sender_incarnation) {
    from.raw->ReportSnapshot(to.id, delivered ? raft::SnapshotStatus::kFinish
                                              : raft::SnapshotStatus::kFailure);
  }
  return result;
}

absl::Status Simulation::ApplyEntry(SimNode& n, const Entry& e) {
  if (e.index != n.applied.Next()) {
    std::ostringstream os;
    os << "node " << n.id << " applied index " << e.index << " after " << n.applied;
    return Fail(os.str());
  }
  n.applied = e.index;
  n.hash = Mix(n.hash, e.data, e.index.value());
  auto [it, inserted] = history_.try_emplace(e.index, HistoryEntry{e.term, e.data, n.hash});
  if (inserted) {
    ++stats_->committed_entries;
    if (e.type == raft::EntryType::kConfChange) ++stats_->conf_changes;
  } else if (it->second.term != e.term || it->second.data != e.data ||
             it->second.hash_after != n.hash) {
    std::ostringstream os;
    os << "committed entry changed at index " << e.index << ": was term " << it->second.term
       << " '" << it->second.data << "', node " << n.id << " applied term " << e.term << " '"
       << e.data << "'";
    return Fail(os.str());
  }
  if (e.type == raft::EntryType::kConfChange) ApplyConfChange(n, e);
  if (e.data == marker_) marker_applied_ = true;
  return absl::OkStatus();
}

absl::Status Simulation::Sync(SimNode& n) {
  Ready rd = std::move(*n.pending);
  n.pending.reset();
  if (rd.snapshot) {
    const raft::Snapshot& s = *rd.snapshot;
    absl::Status st = n.storage->ApplySnapshot(s);
    if (!st.ok()) return Fail("apply snapshot: " + std::string(st.message()));
    auto it = history_.find(s.metadata.index);
    if (it != history_.end()) {
      if (it->second.term != s.metadata.term) return Fail("snapshot term differs from history");
      if (it->second.hash_after != DecodeHash(s.data)) return Fail("snapshot state differs");
    }
    n.applied = s.metadata.index;
    n.hash = DecodeHash(s.data);
    ++stats_->snapshots_installed;
  }
  n.storage->Append(rd.entries);
  if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
  Send(n, std::move(rd.messages));
  RETURN_IF_ERROR(ReceiveReadStates(n, rd.read_states));
  for (const Entry& e : rd.committed_entries) RETURN_IF_ERROR(ApplyEntry(n, e));
  n.raw->Advance(rd);
  RETURN_IF_ERROR(ServeReads(n));
  // Compaction: snapshot the state machine (and the membership it was applied with) and drop
  // the log before it.
  const LogIndex first = *n.storage->FirstIndex();
  if (n.applied.value() >= first.value() + compact_every_ &&
      n.applied <= *n.storage->LastIndex()) {
    SLUICE_CHECK_OK(n.storage
                        ->CreateSnapshot(n.applied, n.raw->raft().tracker().GetConfState(),
                                         EncodeHash(n.hash))
                        .status());
    SLUICE_CHECK_OK(n.storage->Compact(n.applied));
  }
  return absl::OkStatus();
}

absl::Status Simulation::Step() {
  ++now_;
  if (!restart_error_.ok()) return restart_error_;
  for (SimNode& n : nodes_) {
    if (n.up() && (now_ + n.tick_phase_ms) % o_.tick_ms == 0) n.raw->Tick();
  }
  while (!inflight_.empty() && inflight_.top().deliver_at_ms <= now_) {
    Envelope e = inflight_.top();
    inflight_.pop();
    RETURN_IF_ERROR(Deliver(e));
  }
  for (SimNode& n : nodes_) {
    if (!n.up()) continue;
    if (n.pending && n.pending_done_ms <= now_) RETURN_IF_ERROR(Sync(n));
    if (!n.pending && n.raw->HasReady()) {
      n.pending = n.raw->GetReady();
      n.pending_done_ms = now_ + static_cast<int64_t>(rng_.Uniform(max_disk_ms_ + 1));
      if (n.pending_done_ms <= now_) RETURN_IF_ERROR(Sync(n));
    }
  }
  StopRemovedNodes();
  TrackCommitted();
  return CheckLeaders();
}

absl::Status Simulation::CheckLeaders() {
  if (leader_kept_after_removal_) return Fail("a leader stayed leader after its own removal");
  for (SimNode& n : nodes_) {
    if (!n.up()) continue;
    const raft::Raft& r = n.raw->raft();
    if (r.state() != raft::StateType::kLeader) continue;
    auto [it, inserted] = leaders_.try_emplace(r.term(), n.id);
    if (!inserted && it->second != n.id) {
      std::ostringstream os;
      os << "two leaders in term " << r.term() << ": " << it->second << " and " << n.id;
      return Fail(os.str());
    }
    if (!inserted) continue;
    ++stats_->leaders_elected;
    // Leader completeness: a new leader holds every entry committed so far.
    for (auto h = history_.lower_bound(r.log().FirstIndex()); h != history_.end(); ++h) {
      absl::StatusOr<Term> t = r.log().TermAt(h->first);
      if (!t.ok() || *t != h->second.term) {
        std::ostringstream os;
        os << "leader " << n.id << " of term " << r.term() << " lacks committed entry "
           << h->first;
        return Fail(os.str());
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::Status RunSeed(uint64_t seed, const SimOptions& options, SimStats* stats) {
  SimStats local;
  internal::Simulation sim(seed, options, stats ? stats : &local);
  return sim.Run();
}

}  // namespace sluice::sim
