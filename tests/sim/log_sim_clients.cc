// The log simulator's clients: what they do (appends of every kind, QoS 2 releases, cursor
// commits, metadata writes, the liveness probes after a heal) and what they were told.
//
// Expected answers, and why (anything else fails the seed):
//   OK                   applied (an append with its offset).
//   FailedPrecondition   the node does not lead the group: clients aim at the leader they
//                        believe in, and beliefs are stale during elections; a fifth of the
//                        operations go to a random node on purpose. Not applied.
//   ResourceExhausted    the node's pending limit (kPendingAppendsMax). Not applied.
//   Unavailable, DeadlineExceeded, Cancelled
//                        leadership lost, timeout, the node crashed: outcome unknown.
// InvalidArgument, OutOfRange (a cursor past the high watermark: clients commit at most the
// target's own high watermark), NotFound, DataLoss, Internal ... are bugs.
#include <string>
#include <utility>

#include "storage/log/log_state.h"
#include "tests/sim/log_sim_internal.h"

namespace sluice::sim::logsim {
namespace {

constexpr int kQos2Publishers = 3;
constexpr uint16_t kQos2PacketIds = 4;  // per publisher: ids are reused after their release
constexpr int kCursorNames = 2;         // per partition
constexpr int kStateKeys = 4;

std::string Letters(Rng& rng, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + rng.Uniform(26)));
  return s;
}

}  // namespace

Outcome LogSimulation::Classify(const absl::Status& st, const char* what) {
  if (st.ok()) return Outcome::kAcked;
  if (absl::IsFailedPrecondition(st) || absl::IsResourceExhausted(st)) return Outcome::kRejected;
  if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsCancelled(st)) {
    return Outcome::kUnknown;
  }
  if (client_error_.ok()) {
    client_error_ = Fail(std::string("unexpected answer to ") + what + ": " + st.ToString());
  }
  return Outcome::kUnknown;
}

bool LogSimulation::OpsPending() const { return ops_pending_ > 0; }

SimLogNode* LogSimulation::LeaderOf(GroupId g) {
  SimLogNode* best = nullptr;
  Term best_term;
  for (SimLogNode& n : nodes_) {
    std::optional<multiraft::GroupStatus> s = StatusOf(n, g);
    if (!s || s->state != raft::StateType::kLeader) continue;
    if (best == nullptr || s->term > best_term) {
      best = &n;
      best_term = s->term;
    }
  }
  return best;
}

SimLogNode* LogSimulation::Target(GroupId g) {
  if (!rng_.Chance(1, 5)) {
    if (SimLogNode* l = LeaderOf(g)) return l;
  }
  SimLogNode& n = nodes_[rng_.Uniform(nodes_.size())];
  return n.up() ? &n : nullptr;
}

storage::Record LogSimulation::NewRecord(const std::string& topic, uint64_t id,
                                         bool retain_allowed) {
  storage::Record r;
  r.topic = topic;
  r.timestamp_ms = clock_.WallMs();
  r.qos = static_cast<uint8_t>(rng_.Uniform(2));
  r.publisher = "p" + std::to_string(rng_.Uniform(4));
  // The record's identity travels in its (opaque) property block, so that even an empty
  // payload (a retained message's clear) is recognised.
  r.properties = "id=" + std::to_string(id);
  r.retain = retain_allowed && rng_.Chance(1, 6);
  if (!(r.retain && rng_.Chance(1, 3))) {
    r.payload = "v" + std::to_string(id) + "-" + Letters(rng_, rng_.Uniform(40));
  }
  return r;
}

uint64_t LogSimulation::Append(SimLogNode& n, PartitionId p, storage::Record r,
                               uint16_t packet_id) {
  const uint64_t id = next_id_++;
  AppendOp& op = appends_[id];
  op.partition = p;
  op.record = r;
  op.packet_id = packet_id;
  op.node = n.id;
  ++ops_pending_;
  n.log->Append(p, r, packet_id, [this, id](absl::StatusOr<Offset> result) {
    OnAppendDone(id, std::move(result));
  });
  return id;
}

void LogSimulation::OnAppendDone(uint64_t id, absl::StatusOr<Offset> r) {
  AppendOp& op = appends_[id];
  if (op.outcome != Outcome::kPending && client_error_.ok()) {
    client_error_ = Fail("append " + std::to_string(id) + " answered twice");
  }
  --ops_pending_;
  op.outcome = Classify(r.status(), "an append");
  Trace(10, id, r.ok() ? r->value() + 1 : static_cast<uint64_t>(r.status().code()) << 40);
  switch (op.outcome) {
    case Outcome::kAcked:
      op.offset = *r;
      ++stats_->appends_acked;
      if (client_error_.ok()) client_error_ = CheckAck(id);
      break;
    case Outcome::kRejected:
      ++stats_->appends_rejected;
      break;
    default:
      ++stats_->appends_unknown;
  }
}

void LogSimulation::OnKeyDone(KeyHistory* h, size_t op, const absl::Status& st,
                              const char* what) {
  if (h->ops[op].outcome != Outcome::kPending && client_error_.ok()) {
    client_error_ = Fail(std::string(what) + " answered twice");
  }
  --ops_pending_;
  h->ops[op].outcome = Classify(st, what);
  Trace(11, static_cast<uint64_t>(h->ops[op].kind), static_cast<uint64_t>(st.code()));
}

void LogSimulation::PlainAppend() {
  const std::string& topic = topics_[rng_.Uniform(topics_.size())];
  const PartitionId p = partitioner_.For(topic);
  SimLogNode* n = Target(storage::LogState::GroupOf(p));
  if (n == nullptr) return;
  Append(*n, p, NewRecord(topic, next_id_, true), 0);
}

// An MQTT publisher's QoS 2 packet ids: PUBLISH (append with the packet id) until it is
// acknowledged, then PUBREL (release) until that is; an unknown outcome is retried. A packet
// id is in one partition (its message's topic's) until released.
void LogSimulation::Qos2Client() {
  const std::string publisher = "q" + std::to_string(rng_.Uniform(kQos2Publishers));
  const uint16_t pid = static_cast<uint16_t>(1 + rng_.Uniform(kQos2PacketIds));
  // Where the packet id is in use: the key whose last operation did not free it.
  KeyHistory* h = nullptr;
  bool fresh = false;  // not in use: the next operation is a new PUBLISH
  PartitionId p;
  for (auto& [key, kh] : qos2_) {
    if (std::get<1>(key) != publisher || std::get<2>(key) != pid || kh.ops.empty()) continue;
    const KeyOp& last = kh.ops.back();
    const bool freed = last.kind == KeyOp::Kind::kRelease && last.outcome == Outcome::kAcked;
    if (kh.busy() || !freed) {
      h = &kh;
      p = PartitionId(std::get<0>(key));
    }
  }
  if (h != nullptr && h->busy()) return;
  std::string topic;
  if (h == nullptr) {
    fresh = true;
    topic = topics_[rng_.Uniform(topics_.size())];
    p = partitioner_.For(topic);
    h = &qos2_[Qos2Key{p.value(), publisher, pid}];
  } else {
    for (auto it = h->ops.rbegin(); it != h->ops.rend() && topic.empty(); ++it) {
      if (it->kind == KeyOp::Kind::kAppend) topic = appends_[it->append_id].record.topic;
    }
  }
  SimLogNode* n = Target(storage::LogState::GroupOf(p));
  if (n == nullptr) return;
  const bool release = !fresh && (h->ops.back().outcome == Outcome::kAcked || rng_.Chance(1, 2));
  const size_t index = h->ops.size();
  ++ops_pending_;
  if (release) {
    h->ops.push_back(KeyOp{KeyOp::Kind::kRelease});
    n->log->ReleaseQos2(p, publisher, pid, [this, h, index](absl::Status st) {
      if (st.ok()) ++stats_->qos2_releases_acked;
      OnKeyDone(h, index, st, "a QoS 2 release");
    });
    return;
  }
  storage::Record r = NewRecord(topic, next_id_, true);
  r.qos = 2;
  r.publisher = publisher;
  KeyOp op{KeyOp::Kind::kAppend};
  op.append_id = next_id_;
  h->ops.push_back(op);
  const uint64_t id = next_id_++;
  AppendOp& a = appends_[id];
  a.partition = p;
  a.record = r;
  a.packet_id = pid;
  a.node = n->id;
  n->log->Append(p, r, pid, [this, id, h, index](absl::StatusOr<Offset> result) {
    if (result.ok()) ++stats_->qos2_appends_acked;
    h->ops[index].outcome = Classify(result.status(), "a QoS 2 append");
    OnAppendDone(id, std::move(result));
  });
}

void LogSimulation::CursorClient() {
  const PartitionId p(static_cast<uint32_t>(rng_.Uniform(o_.partitions)));
  const std::string name = "s" + std::to_string(rng_.Uniform(kCursorNames));
  KeyHistory* h = &cursors_[CursorKey{p.value(), name}];
  if (h->busy()) return;
  SimLogNode* n = Target(storage::LogState::GroupOf(p));
  if (n == nullptr) return;
  absl::StatusOr<storage::PartitionInfo> info = n->log->Info(p);
  if (!info.ok()) {
    if (client_error_.ok()) client_error_ = Fail("Info: " + info.status().ToString());
    return;
  }
  KeyOp op{KeyOp::Kind::kCommit};
  op.offset = Offset(rng_.Uniform(info->high_watermark.value() + 1));
  const size_t index = h->ops.size();
  h->ops.push_back(op);
  ++ops_pending_;
  n->log->CommitCursor(p, name, op.offset, 0, [this, h, index](absl::Status st) {
    if (st.ok()) ++stats_->cursor_commits_acked;
    OnKeyDone(h, index, st, "a cursor commit");
  });
}

void LogSimulation::MetadataClient() {
  const std::string key = "k" + std::to_string(rng_.Uniform(kStateKeys));
  KeyHistory* h = &state_keys_[key];
  if (h->busy()) return;
  SimLogNode* n = Target(storage::LogState::kMetadataGroup);
  if (n == nullptr) return;
  const size_t index = h->ops.size();
  ++ops_pending_;
  auto done = [this, h, index](absl::Status st) {
    if (st.ok()) ++stats_->state_writes_acked;
    OnKeyDone(h, index, st, "a metadata write");
  };
  if (rng_.Chance(1, 4)) {
    h->ops.push_back(KeyOp{KeyOp::Kind::kDelete});
    n->log->DeleteState(key, done);
  } else {
    KeyOp op{KeyOp::Kind::kPut};
    op.value = "w" + std::to_string(step_) + Letters(rng_, rng_.Uniform(8));
    h->ops.push_back(op);
    n->log->PutState(key, op.value, done);
  }
}

void LogSimulation::Clients() {
  if (rng_.Chance(1, 8)) PlainAppend();
  if (rng_.Chance(1, 30)) Qos2Client();
  if (rng_.Chance(1, 80)) CursorClient();
  if (rng_.Chance(1, 80)) MetadataClient();
}

// After a heal: one write per group, to its leader, until each group accepted one (a
// leader of the current term committed, so every replica can apply everything before it).
void LogSimulation::LivenessProbes(int round, std::set<GroupId>* done) {
  for (GroupId g : Groups()) {
    if (done->count(g)) continue;
    if (g == storage::LogState::kMetadataGroup) {
      KeyHistory* h = &state_keys_["live"];
      if (!h->ops.empty() && h->ops.back().outcome == Outcome::kAcked &&
          h->ops.back().value == "round" + std::to_string(round)) {
        done->insert(g);
        continue;
      }
      SimLogNode* n = h->busy() ? nullptr : LeaderOf(g);
      if (n == nullptr) continue;
      KeyOp op{KeyOp::Kind::kPut};
      op.value = "round" + std::to_string(round);
      const size_t index = h->ops.size();
      h->ops.push_back(op);
      ++ops_pending_;
      n->log->PutState("live", op.value, [this, h, index](absl::Status st) {
        OnKeyDone(h, index, st, "a liveness put");
      });
      continue;
    }
    const PartitionId p = storage::LogState::PartitionOf(g);
    // This heal's probe of p (probes_ is cleared at each heal).
    auto probe = probes_.find(p.value());
    if (probe != probes_.end()) {
      const Outcome outcome = appends_[probe->second].outcome;
      if (outcome == Outcome::kAcked) {
        done->insert(g);
        continue;
      }
      if (outcome == Outcome::kPending) continue;
    }
    SimLogNode* n = LeaderOf(g);
    if (n == nullptr) continue;
    std::string topic;
    for (const std::string& t : topics_) {
      if (partitioner_.For(t) == p) topic = t;
    }
    storage::Record r = NewRecord(topic, next_id_, false);
    r.publisher = "live" + std::to_string(round);
    probes_[p.value()] = Append(*n, p, r, 0);
  }
}

}  // namespace sluice::sim::logsim
